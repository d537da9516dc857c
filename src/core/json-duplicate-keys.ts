/**
 * Finds a member name that appears twice in one JSON object. Pure; never throws on valid JSON.
 *
 * `JSON.parse` keeps the last of two equal names, another parser may keep the first: a signed header or payload
 * with `"sub"` twice means different things to different readers, so a signed document must not have one
 * (RFC 7515 §5.2 step 4 lets a verifier reject it; RFC 8259 §4 says names SHOULD be unique). Names are compared
 * after their escapes are decoded, so `"sub"` and `"\u0073ub"` are the same name.
 */

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Index just past the string literal that opens at `start` (a `"`), or the text's length if it never closes. */
function endOfString(json: string, start: number): number {
  for (let i = start + 1; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return json.length;
}

/**
 * Returns the first name found twice in one object, at any depth, or null when there is none.
 * Meant for text `JSON.parse` has already accepted; on anything else it returns a best effort, never throws.
 */
export function findDuplicateKey(json: string): string | null {
  // One entry per open container: the names seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let i = 0;
  while (i < json.length) {
    const c = json.charCodeAt(i);
    if (c === 0x7b) {
      open.push(new Set());
      i++;
    } else if (c === 0x5b) {
      open.push(null);
      i++;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      i++;
    } else if (c === 0x22) {
      const end = endOfString(json, i);
      const names = open[open.length - 1];
      let j = end;
      while (j < json.length && WS.has(json.charCodeAt(j))) j++;
      // A string followed by ':' inside an object is a member name; any other string is a value.
      if (names !== undefined && names !== null && json.charCodeAt(j) === 0x3a) {
        let name: string;
        try {
          name = JSON.parse(json.slice(i, end)) as string;
        } catch {
          return null;
        }
        if (names.has(name)) return name;
        names.add(name);
      }
      i = end;
    } else {
      i++;
    }
  }
  return null;
}
