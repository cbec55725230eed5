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
