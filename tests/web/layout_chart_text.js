// Chart text sizes as shown, and values drawn over bars: run by test_web_layout.py.
() => {
  const sizes = [], overlaps = [];
  for (const svg of document.querySelectorAll('.chart svg')) {
    const vb = svg.viewBox.baseVal, box = svg.getBoundingClientRect();
    if (!box.width) continue; // the drawing for another screen size, not shown
    const scale = Math.min(box.width / vb.width, box.height / vb.height);
    for (const text of svg.querySelectorAll('.axis text, .legend text, text.value')) {
      if (!text.textContent.trim() || !text.getBBox().width) continue;
      sizes.push(parseFloat(getComputedStyle(text).fontSize) * scale);
    }
    const bars = [...svg.querySelectorAll('rect.rect')].map((r) => r.getBoundingClientRect());
    for (const value of svg.querySelectorAll('text.value')) {
      const v = value.getBoundingClientRect();
      if (!v.width) continue;
      for (const b of bars)
        if (v.left < b.right - 1 && v.right > b.left + 1 && v.top < b.bottom - 1 && v.bottom > b.top + 1)
          overlaps.push(value.textContent);
    }
  }
  return {smallest: Math.min(...sizes), overlaps};
}
