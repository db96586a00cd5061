/* DOM helpers shared by the agent inbox and the simulator's customer phone.
 *
 * Text that may come from a customer or an agent (names, messages, URLs) only reaches the page
 * through textContent, and links only through checked http(s) URLs: neither page builds HTML
 * from strings.
 */

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null && text !== "") node.textContent = String(text);
  return node;
}

/** The absolute URL when `value` is an http(s) URL; null for javascript:, data: and the rest. */
export function safeUrl(value) {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

/** A link to a URL checked by safeUrl(), opened in a new tab that gets no handle on this page. */
export function externalLink(className, text, checkedUrl) {
  const link = el("a", className, text);
  link.href = checkedUrl;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  return link;
}

/** A lazily loaded image that opens full size in a new tab. */
export function imageLink(className, checkedUrl, alt) {
  const link = externalLink(className, "", checkedUrl);
  const image = el("img");
  image.src = checkedUrl;
  image.alt = alt;
  image.loading = "lazy";
  link.appendChild(image);
  return link;
}

export function mapUrl(latitude, longitude) {
  return `https://www.openstreetmap.org/?mlat=${latitude}&mlon=${longitude}#map=16/${latitude}/${longitude}`;
}
