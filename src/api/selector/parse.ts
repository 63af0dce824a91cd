/**
 * Recursive-descent parser for Calico's selector language, scanning the text directly so every error
 * carries the 0-based position of the offending character.
 *
 *   or      := and ('||' and)*
 *   and     := unary ('&&' unary)*
 *   unary   := '!'* primary
 *   primary := '(' or ')' | 'all()' | 'global()' | 'has(' key ')'
 *            | key ('==' | '!=' | 'contains' | 'starts with' | 'ends with') string
 *            | key ('in' | 'not in') '{' [string (',' string)* [',']] '}'
 *   string  := '"' ... '"' | "'" ... "'"
 *
 * Strings: Calico has no escapes. We accept `\\`, `\"` and `\'` so the canonical printer can always use
 * double quotes; a backslash before any other character is literal, as in Calico. (Label values can
 * contain neither quotes nor backslashes, so this only changes literals that could never match.)
 */
import { TesseraError } from '../../lib/errors.js';
import type { Selector, SetOperator, ValueOperator } from './ast.js';
import { normalizeSelector } from './canonical.js';
import { validateLabelKey } from './labels.js';

/** Parenthesis nesting limit: keeps hostile input from overflowing the stack. */
const MAX_DEPTH = 100;

const CH_TAB = 9;
const CH_LF = 10;
const CH_CR = 13;
const CH_SPACE = 32;

function isSpace(c: number): boolean {
  return c === CH_SPACE || c === CH_TAB || c === CH_LF || c === CH_CR;
}

/** Calico's identifier charset; stricter key syntax is checked afterwards so errors can explain it. */
function isKeyChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 46 || // .
    c === 47 || // /
    c === 45 // -
  );
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parse(): Selector {
    this.skipSpace();
    if (this.atEnd()) return { kind: 'all' };
    const s = this.parseOr();
    this.skipSpace();
    if (!this.atEnd()) {
      if (this.peek() === ')') this.fail('unmatched ")"');
      this.fail('expected "&&", "||" or end of selector');
    }
    return s;
  }

  private parseOr(): Selector {
    const operands = [this.parseAnd()];
    for (;;) {
      this.skipSpace();
      if (this.peek() !== '|') break;
      if (this.text[this.pos + 1] !== '|') this.fail('expected "||"');
      this.pos += 2;
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? (operands[0] as Selector) : { kind: 'or', operands };
  }

  private parseAnd(): Selector {
    const operands = [this.parseUnary()];
    for (;;) {
      this.skipSpace();
      if (this.peek() !== '&') break;
      if (this.text[this.pos + 1] !== '&') this.fail('expected "&&"');
      this.pos += 2;
      operands.push(this.parseUnary());
    }
    return operands.length === 1 ? (operands[0] as Selector) : { kind: 'and', operands };
  }

  private parseUnary(): Selector {
    let negated = false;
    for (;;) {
      this.skipSpace();
      if (this.peek() !== '!') break;
      negated = !negated;
      this.pos++;
    }
    const s = this.parsePrimary();
    return negated ? { kind: 'not', operand: s } : s;
  }

  private parsePrimary(): Selector {
    this.skipSpace();
    const start = this.pos;
    if (this.peek() === '(') {
      if (++this.depth > MAX_DEPTH) this.fail(`parentheses nested deeper than ${MAX_DEPTH}`);
      this.pos++;
      const s = this.parseOr();
      this.skipSpace();
      if (this.peek() !== ')') this.fail('expected ")"');
      this.pos++;
      this.depth--;
      return s;
    }
    const key = this.readKey();
    if (key === '') this.fail('expected a label, "has(", "all()", "global()", "!" or "("');
    this.skipSpace();
    if (this.peek() === '(' && (key === 'has' || key === 'all' || key === 'global')) {
      this.pos++;
      this.skipSpace();
      if (key === 'has') {
        const keyStart = this.pos;
        const label = this.readKey();
        if (label === '') this.fail('expected a label key in "has()"');
        this.checkKey(label, keyStart);
        this.skipSpace();
        this.expectChar(')', 'expected ")" to close "has("');
        return { kind: 'has', key: label };
      }
      this.expectChar(')', `expected ")" after "${key}("`);
      return { kind: key };
    }
    this.checkKey(key, start);
    return this.parseComparison(key);
  }

  private parseComparison(key: string): Selector {
    const opStart = this.pos;
    const c = this.peek();
    if (c === '=' || c === '!') {
      if (this.text[this.pos + 1] !== '=') {
        this.fail(c === '=' ? 'expected "=="' : `expected an operator after label "${key}"`);
      }
      this.pos += 2;
      return { kind: c === '=' ? 'eq' : 'ne', key, value: this.readString() };
    }
    const word = this.readWord();
    let valueOp: ValueOperator | undefined;
    let setOp: SetOperator | undefined;
    if (word === 'in') setOp = 'in';
    else if (word === 'contains') valueOp = 'contains';
    else if (word === 'not') {
      this.expectSecondWord('in', 'not in');
      setOp = 'notIn';
    } else if (word === 'starts') {
      this.expectSecondWord('with', 'starts with');
      valueOp = 'startsWith';
    } else if (word === 'ends') {
      this.expectSecondWord('with', 'ends with');
      valueOp = 'endsWith';
    }
    if (valueOp !== undefined) return { kind: valueOp, key, value: this.readString() };
    if (setOp !== undefined) return { kind: setOp, key, values: this.readSet() };
    this.pos = opStart;
    return this.fail(
      `expected an operator (==, !=, in, not in, contains, starts with, ends with) after label "${key}"`,
    );
  }

  private expectSecondWord(second: string, phrase: string): void {
    const before = this.pos;
    this.skipSpace();
    const at = this.pos;
    if (at === before || this.readWord() !== second) {
      this.pos = at;
      this.fail(`expected "${phrase}"`);
    }
  }

  private readSet(): string[] {
    this.skipSpace();
    this.expectChar('{', 'expected "{"');
    const values: string[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === '}') break;
      if (this.peek() !== '"' && this.peek() !== "'") this.fail('expected a quoted string or "}"');
      values.push(this.readString());
      this.skipSpace();
      if (this.peek() === ',') {
        this.pos++;
        continue;
      }
      if (this.peek() !== '}') this.fail('expected "," or "}"');
    }
    this.pos++;
    return values;
  }

  private readString(): string {
    this.skipSpace();
    const quote = this.peek();
    if (quote !== '"' && quote !== "'") this.fail('expected a quoted string');
    const start = this.pos;
    let out = '';
    let i = this.pos + 1;
    let chunk = i;
    const text = this.text;
    for (;;) {
      if (i >= text.length) {
        this.pos = start;
        this.fail('unterminated string starting', false);
      }
      const ch = text[i];
      if (ch === quote) break;
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === '\\' || next === '"' || next === "'") {
          out += text.slice(chunk, i) + next;
          i += 2;
          chunk = i;
          continue;
        }
      }
      i++;
    }
    out += text.slice(chunk, i);
    this.pos = i + 1;
    return out;
  }

  private readKey(): string {
    const start = this.pos;
    while (this.pos < this.text.length && isKeyChar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private readWord(): string {
    const start = this.pos;
    while (this.pos < this.text.length && isWordChar(this.text.charCodeAt(this.pos))) this.pos++;
    // A word glued to key characters (`inx`, `contains-`) is not an operator.
    if (this.pos < this.text.length && isKeyChar(this.text.charCodeAt(this.pos))) return '';
    return this.text.slice(start, this.pos);
  }

  private checkKey(key: string, at: number): void {
    const problem = validateLabelKey(key);
    if (problem !== undefined) {
      this.pos = at;
      this.fail(problem, false);
    }
  }

  private expectChar(ch: string, message: string): void {
    if (this.peek() !== ch) this.fail(message);
    this.pos++;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(what: string, showFound = true): never {
    const position = this.pos;
    const found = showFound ? this.text[position] : undefined;
    const tail = found === undefined ? '' : `, found ${JSON.stringify(found)}`;
    throw new TesseraError(
      'validation',
      `invalid selector ${JSON.stringify(this.text)}: ${what} at position ${position}${tail}`,
      { details: { selector: this.text, position, ...(found === undefined ? {} : { found }) } },
    );
  }
}

/** Parses Calico selector text into its canonical AST; `""` (or only whitespace) is `all()`. */
export function parseSelector(text: string): Selector {
  if (typeof text !== 'string') {
    // Manifests arrive as untyped YAML; a number or map here is user input, not a bug.
    throw new TesseraError('validation', `invalid selector ${JSON.stringify(text)}: must be a string`, {
      details: { selector: text, position: 0 },
    });
  }
  return normalizeSelector(new Parser(text).parse());
}
