// The tab's icon with a red count while things arrive unseen: the page's own favicon
// (static/favicon.svg, linked from base.html) with a badge drawn into a copy of the SVG,
// swapped in as a data: URL; the linked file again once the count is back to 0.
const BADGE = '<circle cx="46" cy="18" r="18" fill="#b02a37"/>' +
  '<text x="46" y="25" font-family="Arial,sans-serif" font-size="{size}" font-weight="700" text-anchor="middle" fill="#fff">{n}</text>';

let link = null;
let original = "";
let svg = null; // the favicon's markup, fetched once
let wanted = 0;

function iconLink() {
  if (!link) {
    link = document.querySelector('link[rel="icon"]');
    if (link) original = link.getAttribute("href");
  }
  return link;
}

export async function showCount(count) {
  const el = iconLink();
  if (!el) return;
  wanted = count;
  if (!count) { el.href = original; return; }
  try {
    if (svg === null) svg = await (await fetch(original, { credentials: "same-origin" })).text();
  } catch { return; } // offline: the title still carries the count
  if (wanted !== count) return; // a newer count (or 0) came while the icon was loading
  const n = count > 99 ? "99+" : String(count);
  const badge = BADGE.replace("{n}", n).replace("{size}", n.length > 1 ? "18" : "24");
  el.href = "data:image/svg+xml," + encodeURIComponent(svg.replace("</svg>", badge + "</svg>"));
}
