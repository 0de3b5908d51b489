'use strict';

// A small horizontal bar chart of speed-up ratios per case, as SVG (no dependency).
// Log scale around 1x: bars to the right of 1x mean native is faster, to the left slower.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function ratioChart(entries, key, title, { goal = key === 'nativeVsJs' ? 2 : 1 } = {}) {
  const rows = entries.filter((e) => e.ratios && e.ratios[key] != null);
  const labelW = 270;
  const plotW = 520;
  const rowH = 18;
  const top = 48;
  const width = labelW + plotW + 70;
  const height = top + Math.max(1, rows.length) * rowH + 40;
  const values = rows.map((e) => e.ratios[key]);
  let lo = Math.min(0.5, ...values.map((v) => v / 1.2));
  let hi = Math.max(4, ...values.map((v) => v * 1.2));
  // round the domain to powers of two
  lo = 2 ** Math.floor(Math.log2(lo));
  hi = 2 ** Math.ceil(Math.log2(hi));
  const x = (v) => labelW + ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * plotW;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`);
  // grid: powers of two
  for (let g = lo; g <= hi * 1.0001; g *= 2) {
    const gx = x(g).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + rows.length * rowH}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${gx}" y="${top - 10}" text-anchor="middle" fill="#555">${g >= 1 ? g : '1/' + 1 / g}x</text>`);
  }
  const one = x(1).toFixed(1);
  out.push(`<line x1="${one}" y1="${top - 6}" x2="${one}" y2="${top + rows.length * rowH}" stroke="#333" stroke-width="1.5"/>`);
  if (goal !== 1 && goal > lo && goal < hi) {
    const gx = x(goal).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + rows.length * rowH}" stroke="#1f6fd1" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${gx}" y="${top + rows.length * rowH + 14}" text-anchor="middle" fill="#1f6fd1">goal ${goal}x</text>`);
  }
  rows.forEach((e, i) => {
    const v = e.ratios[key];
    const y = top + i * rowH;
    const x0 = x(1);
    const x1 = x(v);
    const color = v >= goal ? '#2e9d4f' : v >= 1 ? '#e0a526' : '#d24b3e';
    out.push(`<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(e.id)}</text>`);
    out.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 3}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${rowH - 6}" fill="${color}"/>`);
    out.push(`<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + rowH / 2 + 4}" fill="#222">${v}x</text>`);
  });
  if (rows.length === 0) out.push(`<text x="${width / 2}" y="${top + 12}" text-anchor="middle">no data</text>`);
  const legendY = height - 10;
  out.push(`<rect x="${labelW}" y="${legendY - 9}" width="10" height="10" fill="#2e9d4f"/><text x="${labelW + 14}" y="${legendY}">at or above ${goal}x</text>`);
  if (goal !== 1) out.push(`<rect x="${labelW + 120}" y="${legendY - 9}" width="10" height="10" fill="#e0a526"/><text x="${labelW + 134}" y="${legendY}">faster, below goal</text>`);
  out.push(`<rect x="${labelW + 250}" y="${legendY - 9}" width="10" height="10" fill="#d24b3e"/><text x="${labelW + 264}" y="${legendY}">native slower</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

module.exports = { ratioChart };
