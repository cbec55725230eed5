// The scanner offering an element's raw content to its handler (ScanHandler.content, contentNames): the
// handler sees the same elements, in the same order, at the same lines, however the file is cut into
// chunks; an element named in contentNames is offered whole even when its content arrives over several
// chunks; a content the handler refuses is scanned as usual.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XmlScanner } from '../../connectors/lib/index.ts';

const NAMES = ['r', 'b', 'i'];
const B = 1;

/** Events of a scan: opens and closes with their lines, and `took` for content taken (its text). */
function scan(xml: Buffer, cuts: number[], opts: { contentNames?: number[]; take?: (text: string) => boolean; measure?: 'first <' | 'start' }): string[] {
  const events: string[] = [];
  const sc: XmlScanner = new XmlScanner({ fileName: 't.xml', names: NAMES, ...(opts.contentNames ? { contentNames: opts.contentNames } : {}) }, {
    open(name, d) {
      events.push(`<${NAMES[name] ?? name} ${d} @${sc.currentLine()}`);
      if (name === B && opts.take) sc.offerContent();
      return false;
    },
    close(name, d) {
      events.push(`</${NAMES[name] ?? name} ${d} @${sc.currentLine()}`);
    },
    // measure: 'first <' answers the first `<` of the content (the end tag when the content is plain text),
    // 'start' answers its start (never an end tag): the scanner must check what it is told.
    ...(opts.measure ? {
      measure(_name: number, buf: Buffer, s: number, limit: number) {
        if (opts.measure === 'start') return s;
        const lt = buf.indexOf(0x3c, s);
        return lt >= 0 && lt < limit ? lt : -1;
      },
    } : {}),
    content(_name, _d, buf, s, e) {
      const text = buf.subarray(s, e).toString('utf8');
      if (!opts.take?.(text)) return false;
      events.push(`took ${JSON.stringify(text)}`);
      return true;
    },
  });
  let at = 0;
  for (const c of [...cuts, xml.length]) {
    if (c > at) sc.write(xml.subarray(at, c));
    at = Math.max(at, c);
  }
  sc.end();
  return events;
}

/** A document of `<b>` elements: plain text, nested `<i>`, comments, empty ones, across lines. */
const doc = fc.array(fc.oneof(
  fc.stringMatching(/^[a-zа-я0-9 ]{0,30}$/).map((t) => `<b>${t}</b>`),
  fc.stringMatching(/^[a-z]{0,8}$/).map((t) => `<b>x<i>${t}</i>y</b>`),
  fc.constant('<b><!-- c --></b>'),
  fc.constant('<b/>'),
  fc.constant('\n'),
), { maxLength: 40 }).map((parts) => Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<r>${parts.join('')}</r>\n`, 'utf8'));

const cutsOf = (len: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, len - 1) }), { maxLength: 12 }).map((a) => a.sort((x, y) => x - y));

describe('content offered to the handler', () => {
  it('the same elements and lines however the file is cut; plain contents taken whole, the rest scanned', () => {
    fc.assert(fc.property(doc.chain((xml) => fc.tuple(fc.constant(xml), cutsOf(xml.length))), ([xml, cuts]) => {
      const plain = scan(xml, [], {});
      // Taken: text without markup.
      const take = (t: string) => !t.includes('<');
      const whole = scan(xml, [], { contentNames: [B], take });
      const cut = scan(xml, cuts, { contentNames: [B], take });
      expect(cut).toEqual(whole);
      // The handler telling where the content ends (ScanHandler.measure), rightly or not: the same events.
      expect(scan(xml, cuts, { contentNames: [B], take, measure: 'first <' })).toEqual(whole);
      expect(scan(xml, cuts, { contentNames: [B], take, measure: 'start' })).toEqual(whole);
      // A taken content holds no element: besides the `took`, the events are the plain scan's, lines included.
      expect(whole.filter((e) => !e.startsWith('took'))).toEqual(plain);
      // Every `<b>` whose content has no markup was taken, wherever the chunks were cut.
      const taken = whole.filter((e) => e.startsWith('took')).length;
      const plainB = [...xml.toString('utf8').matchAll(/<b>([^<]*)<\/b>/g)].length;
      expect(taken).toBe(plainB);
    }), { numRuns: 300 });
  });

  it('without contentNames an element cut by a chunk end is scanned, not offered', () => {
    const xml = Buffer.from('<r><b>hello</b><b>world</b></r>');
    const events = scan(xml, [8], { take: () => true });
    expect(events.filter((e) => e.startsWith('took'))).toEqual(['took "world"']);
    // Named in contentNames, the first one waits for its end and is taken too.
    expect(scan(xml, [8], { contentNames: [B], take: () => true }).filter((e) => e.startsWith('took'))).toEqual(['took "hello"', 'took "world"']);
  });

  it('a refused content is scanned as usual, and a truncated file still fails at its end', () => {
    const xml = Buffer.from('<r>\n<b>a<i>b</i></b>\n</r>');
    expect(scan(xml, [5, 9], { contentNames: [B], take: () => false })).toEqual(scan(xml, [], {}));
    expect(() => scan(Buffer.from('<r><b>never closed'), [6], { contentNames: [B], take: () => true })).toThrow(/not closed|truncated/);
  });
});
