/** Longest given name shown; a longer word is not a name worth putting on a public screen. */
const MAX_CHARS = 24;

/**
 * The given name out of a full Vietnamese name (family name first, given name last): "Nguyễn Văn An" -> "An",
 * "NGUYỄN VĂN AN" -> "An". Null for anything that does not look like a name (empty, digits, too long), so the
 * screen then greets no one rather than showing something odd.
 */
export function givenName(fullName: string | undefined): string | null {
  if (fullName === undefined) return null;
  const words = fullName.normalize("NFC").trim().split(/\s+/u);
  const last = words[words.length - 1] ?? "";
  if (last.length === 0 || last.length > MAX_CHARS || !/^\p{L}[\p{L}\p{M}'-]*$/u.test(last)) return null;
  const lower = last.toLocaleLowerCase("vi");
  return lower.charAt(0).toLocaleUpperCase("vi") + lower.slice(1);
}
