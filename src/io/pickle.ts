// A restricted unpickler: the opcodes that torch.save'd state dicts use (protocols 2–5), nothing
// else. It never imports or executes anything: GLOBAL/STACK_GLOBAL ask `findGlobal`, which returns
// a plain value or a PickleCallable from an explicit allow-list (or throws), and REDUCE may only
// call such a PickleCallable. Unknown opcodes, bad memo references, stack underflow and leftover
// stack items are E_FORMAT. Lists are PickleList, dicts PickleDict, tuples frozen arrays.
import { TeeError } from '../errors.js';

export class PickleList {
  readonly items: unknown[] = [];
}

export type PickleKey = string | number | bigint | boolean | null;

export class PickleDict {
  readonly map = new Map<PickleKey, unknown>();
  /** What BUILD set (e.g. an OrderedDict's `_metadata` attribute); not interpreted. */
  state: unknown = undefined;
}

export interface PickleCallable {
  readonly kind: 'pickle-callable';
  readonly name: string;
  call(args: readonly unknown[]): unknown;
}

export interface UnpickleHooks {
  /** Resolves an allowed global or throws TeeError('E_FORMAT', 'refused pickle global …'). */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (BINPERSID); absent: persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

export interface UnpickleResult {
  readonly value: unknown;
  /** Offset just past the STOP opcode. */
  readonly end: number;
}

export function isPickleCallable(v: unknown): v is PickleCallable {
  return typeof v === 'object' && v !== null && (v as PickleCallable).kind === 'pickle-callable';
}

export function isTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

function isKey(v: unknown): v is PickleKey {
  return v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v);
}

const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);

/** Unpickles one pickle starting at `start`; `source` names the stream in error messages. */
export function unpickle(
  bytes: Uint8Array,
  hooks: UnpickleHooks,
  source = 'pickle',
  start = 0,
): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;

  const fail = (msg: string): never => {
    throw new TeeError('E_FORMAT', `${source}: ${msg}`);
  };
  const need = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > bytes.length)
      fail(`truncated pickle at offset ${pos}`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks.at(-1)!))
      fail(`stack underflow at ${pos}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks.at(-1)!))
      fail(`stack underflow at ${pos}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail(`no MARK before offset ${pos}`);
    return stack.splice(m!);
  };
  const text = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail(`invalid UTF-8 string at ${at}`);
    }
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0 || nl - pos > 256) fail(`unterminated GLOBAL name at ${pos}`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const setItems = (dict: unknown, kv: unknown[]): void => {
    if (!(dict instanceof PickleDict)) fail(`SETITEM(S) on a ${describe(dict)}, not a dict`);
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (!isKey(k)) fail(`unsupported dict key of type ${describe(k)}`);
      (dict as PickleDict).map.set(k as PickleKey, kv[i + 1]);
    }
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (!(list instanceof PickleList)) fail(`APPEND(S) on a ${describe(list)}, not a list`);
    for (const item of items) (list as PickleList).items.push(item); // no spread: items may be many
  };
  const get = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo entry ${i} is not defined`);
    return memo.get(i);
  };

  for (;;) {
    const op = bytes[need(1)]!;
    switch (op) {
      case 0x80: {
        const proto = bytes[need(1)]!;
        if (proto < 2 || proto > 5) fail(`unsupported pickle protocol ${proto}`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        need(8);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push(new PickleList());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[need(1)]!));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str; decoded as UTF-8 like torch.load does)
        stack.push(text(bytes[need(1)]!));
        break;
      case 0x54: {
        // BINSTRING
        const n = view.getInt32(need(4), true);
        stack.push(text(n < 0 ? bytes.length + 1 : n));
        break;
      }
      case 0x8d: {
        // BINUNICODE8
        const n = view.getBigUint64(need(8), true);
        stack.push(text(n > BigInt(bytes.length) ? bytes.length + 1 : Number(n)));
        break;
      }
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)]!);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
        {
          const n = bytes[need(1)]!;
          const at = need(n);
          stack.push(readLong(bytes.subarray(at, at + n)));
        }
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x71: // BINPUT
        memo.set(bytes[need(1)]!, top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(get(bytes[need(1)]!));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(view.getUint32(need(4), true)));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(hooks.findGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(hooks.findGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!isPickleCallable(fn)) fail(`REDUCE on a ${describe(fn)}, which is not an allowed callable`);
        if (!isTuple(args)) fail(`REDUCE arguments for ${(fn as PickleCallable).name} are not a tuple`);
        stack.push((fn as PickleCallable).call(args as readonly unknown[]));
        break;
      }
      case 0x62: {
        // BUILD: only a dict may receive state (an OrderedDict's attributes)
        const state = pop();
        const obj = top();
        if (!(obj instanceof PickleDict)) fail(`BUILD on a ${describe(obj)} is not supported`);
        (obj as PickleDict).state = state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) fail('persistent ids are not allowed in this pickle');
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks.at(-1)) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x2e: // STOP
        if (marks.length > 0 || stack.length !== 1)
          fail(`STOP with ${stack.length} stack items and ${marks.length} open marks`);
        return { value: stack[0], end: pos };
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${pos - 1}`);
    }
  }
}

/** LONG1 payload: little-endian two's complement; a number when it is a safe integer. */
function readLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PickleDict) return 'dict';
  if (v instanceof PickleList) return 'list';
  if (isTuple(v)) return 'tuple';
  if (isPickleCallable(v)) return `callable ${v.name}`;
  return typeof v;
}
