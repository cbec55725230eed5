// Parts every web surface's page frame shares (cabinet, manager workplace, console): the flash message
// and the head of the staff surfaces, which load the cabinet's stylesheet and htmx plus their own CSS.
import type { ComponentChildren, VNode } from 'preact';

/** A message at the top of the content (success or error); htmx may also swap #flash out of band. */
export function Flash({ kind, children, oob }: { kind: 'ok' | 'error' | 'info'; children: ComponentChildren; oob?: boolean }): VNode {
  return <div id="flash" class={`flash flash-${kind}`} role={kind === 'error' ? 'alert' : 'status'} {...(oob ? { 'hx-swap-oob': 'true' } : {})}>{children}</div>;
}

/** The <head> of a staff surface: `surface` names it in the title, `css` is its own stylesheet. */
export function StaffHead({ title, surface, css }: { title: string; surface: string; css: string }): VNode {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} — Магистраль, ${surface}`}</title>
      <link rel="stylesheet" href="/cabinet/assets/cabinet.css" />
      <link rel="stylesheet" href={css} />
      <script src="/cabinet/assets/htmx.min.js" defer></script>
    </head>
  );
}
