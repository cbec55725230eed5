// The cabinet's only script besides htmx: small comforts that need no server round trip.
// Escape or a click elsewhere closes the autocomplete list and the manager card.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  const s = document.getElementById('suggest');
  if (s) s.innerHTML = '';
  document.querySelectorAll('details[open]').forEach((d) => d.removeAttribute('open'));
});
document.addEventListener('click', (e) => {
  const s = document.getElementById('suggest');
  if (s && !e.target.closest('form.search')) s.innerHTML = '';
  const m = document.getElementById('manager');
  if (m && m.open && !e.target.closest('#manager')) m.removeAttribute('open');
});
// Plain forms that destroy something ask first (htmx buttons use hx-confirm instead).
document.addEventListener('submit', (e) => {
  const f = e.target.closest('form[data-confirm]');
  if (f && !window.confirm(f.getAttribute('data-confirm'))) e.preventDefault();
});
