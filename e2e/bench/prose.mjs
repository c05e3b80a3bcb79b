// @ts-check
/**
 * Finds the prose in minified JavaScript: string and template literals of five words or more,
 * which in dpop-fetch are error messages. `npm run size` uses it to say how much of a bundle
 * they weigh. A small scanner, enough for esbuild's minified output: strings, templates
 * (nested), regular expression literals (told from division by the token before them).
 */

const KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'throw', 'case', 'void', 'in', 'of', 'new', 'delete', 'do', 'else', 'yield', 'await', 'instanceof']);

/**
 * @param {string} code
 * @returns {Array<[number, number]>} [start, end) of each outermost string or template literal
 */
function literals(code) {
  /** @type {Array<[number, number]>} */
  const spans = [];
  let i = 0;

  const skipString = (/** @type {number} */ at) => {
    const quote = code[at];
    let j = at + 1;
    while (code[j] !== quote) j += code[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  const skipRegex = (/** @type {number} */ at) => {
    let j = at + 1;
    let inClass = false;
    while (inClass || code[j] !== '/') {
      if (code[j] === '\\') j++;
      else if (code[j] === '[') inClass = true;
      else if (code[j] === ']') inClass = false;
      j++;
    }
    j++;
    while (/[a-z]/.test(code[j] ?? '')) j++;
    return j;
  };
  /** Scans code from `at` until an unmatched `}` (inside a template) or the end; returns the index after it. */
  const skipCode = (/** @type {number} */ at, /** @type {boolean} */ nested, /** @type {boolean} */ record) => {
    let j = at;
    let depth = 0;
    let previous = '';
    while (j < code.length) {
      const c = code[j];
      if (c === '"' || c === "'" || c === '`') {
        const end = c === '`' ? skipTemplate(j) : skipString(j);
        if (record) spans.push([j, end]);
        j = end;
        previous = 'literal';
        continue;
      }
      if (c === '/') {
        const word = /[A-Za-z_$][\w$]*$/.exec(previous)?.[0];
        const regex = previous === '' || /[(,=:[!&|?{};+\-*%<>~^]$/.test(previous) || (word !== undefined && KEYWORDS_BEFORE_REGEX.has(word));
        if (regex) {
          j = skipRegex(j);
          previous = 'regex';
          continue;
        }
      }
      if (c === '{') depth++;
      if (c === '}') {
        if (nested && depth === 0) return j + 1;
        depth--;
      }
      if (/[\w$]/.test(c)) {
        let k = j;
        while (k < code.length && /[\w$]/.test(code[k])) k++;
        previous = code.slice(j, k);
        j = k;
        continue;
      }
      if (!/\s/.test(c)) previous = c;
      j++;
    }
    return j;
  };
  const skipTemplate = (/** @type {number} */ at) => {
    let j = at + 1;
    while (code[j] !== '`') {
      if (code[j] === '\\') j += 2;
      else if (code[j] === '$' && code[j + 1] === '{') j = skipCode(j + 2, true, false);
      else j++;
    }
    return j + 1;
  };

  skipCode(i, false, true);
  return spans;
}

/**
 * The prose literals of `code`, and `code` with each of them replaced by `""`.
 * @param {string} code
 */
export function stripProse(code) {
  const prose = literals(code).filter(([start, end]) => end - start > 30 && code.slice(start, end).split(' ').length > 4);
  let rest = '';
  let last = 0;
  for (const [start, end] of prose) {
    rest += `${code.slice(last, start)}""`;
    last = end;
  }
  return { count: prose.length, texts: prose.map(([start, end]) => code.slice(start, end)), rest: rest + code.slice(last) };
}
