// What sticks out sideways on the page: run by test_web_layout.py in Chromium.
() => {
  const found = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const path = (el) => { const parts = []; for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) parts.unshift(name(e)); return parts.join(' > '); };
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) found.push(`the page scrolls sideways: ${root.scrollWidth}px in ${root.clientWidth}px`);
  for (const el of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || style.position === 'fixed') continue;
    if (el.closest('[hidden], .visually-hidden, .skip-link, script, style, template, svg *')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const parent = el.parentElement;
    const ps = getComputedStyle(parent);
    const pbox = parent.getBoundingClientRect();
    const left = pbox.left + parseFloat(ps.borderLeftWidth), right = pbox.right - parseFloat(ps.borderRightWidth);
    if (style.position !== 'absolute' && (box.right > right + 1 || box.left < left - 1))
      found.push(`${path(el)} sticks out of its parent by ${Math.round(Math.max(box.right - right, left - box.left))}px`);
    const clips = ['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX);
    if (clips && el.scrollWidth > el.clientWidth + 1 && style.textOverflow !== 'ellipsis')
      found.push(`${path(el)} cuts or scrolls its content: ${el.scrollWidth}px in ${el.clientWidth}px`);
    if (!clips && el.childElementCount === 0 && style.display !== 'inline' && el.clientWidth > 0
        && el.scrollWidth > el.clientWidth + 1)
      found.push(`${path(el)}: its text spills out (${el.scrollWidth}px in ${el.clientWidth}px)`);
  }
  return found;
}
