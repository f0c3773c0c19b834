import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { isTuple, PickleDict, PickleList, unpickle } from '../../src/io/pickle.js';
import { PickleWriter } from './helpers/pickle-writer.js';

const refuse = {
  findGlobal: (m: string, n: string): never => {
    throw new Error(`unexpected global ${m}.${n}`);
  },
};

function load(p: PickleWriter): unknown {
  return unpickle(p.bytes(), refuse).value;
}

function expectFormat(p: PickleWriter | Uint8Array, pattern?: RegExp): void {
  const bytes = p instanceof PickleWriter ? p.bytes() : p;
  assert.throws(
    () => unpickle(bytes, refuse),
    (e: unknown) => {
      assert.ok(isTeeError(e, 'E_FORMAT'), `expected E_FORMAT, got ${String(e)}`);
      if (pattern) assert.match((e as Error).message, pattern);
      return true;
    },
  );
}

describe('restricted unpickler', () => {
  it('reads scalars: ints of every width, LONG1 (negative, huge), floats, booleans, None', () => {
    const p = new PickleWriter().proto(2).mark();
    p.int(7)
      .int(300)
      .int(-5)
      .int(2 ** 40)
      .raw(0x8a, 1, 0xff)
      .raw(0x8a, 0);
    p.raw(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1).float(-1.5).bool(true).bool(false).none();
    const v = load(p.tuple().stop());
    assert.deepEqual(v, [7, 300, -5, 2 ** 40, -1, 0, 2n ** 64n, -1.5, true, false, null]);
    assert.ok(isTuple(v));
  });

  it('reads strings in every encoding (BINUNICODE, SHORT_BINUNICODE, Python 2 SHORT_BINSTRING)', () => {
    const p = new PickleWriter().proto(4).raw(0x95, 0, 0, 0, 0, 0, 0, 0, 0).mark().str('héllo');
    p.raw(0x8c, 2, 0x68, 0x69).raw(0x55, 3, 0x61, 0x62, 0x63).tuple().stop();
    assert.deepEqual(load(p), ['héllo', 'hi', 'abc']);
  });

  it('builds dicts, lists and tuples, with the memo (BINPUT/BINGET/MEMOIZE), DUP and POP', () => {
    const p = new PickleWriter().proto(2).emptyDict().put(0).str('k').emptyList().raw(0x94).int(1).append();
    p.mark()
      .int(2)
      .int(3)
      .raw(0x65)
      .setitem()
      .str('again')
      .get(1)
      .setitem()
      .str('x')
      .raw(0x32)
      .raw(0x30)
      .raw(0x30);
    const d = load(p.stop());
    assert.ok(d instanceof PickleDict);
    const list = d.map.get('k');
    assert.ok(list instanceof PickleList);
    assert.deepEqual(list.items, [1, 2, 3]);
    assert.equal(d.map.get('again'), list);
  });

  it('rejects malformed pickles with E_FORMAT', () => {
    expectFormat(new PickleWriter().proto(2).get(3).stop(), /memo entry 3/);
    expectFormat(new PickleWriter().proto(2).tuple().stop(), /no MARK/);
    expectFormat(new PickleWriter().proto(2).setitem().stop(), /underflow/);
    expectFormat(new PickleWriter().proto(2).int(1).int(2).stop(), /STOP with 2 stack items/);
    expectFormat(new PickleWriter().proto(2).int(1).append().stop(), /underflow|not a list/);
    expectFormat(new PickleWriter().proto(2).emptyList().int(1).int(2).setitem().stop(), /not a dict/);
    expectFormat(
      new PickleWriter().proto(2).emptyDict().emptyList().int(2).setitem().stop(),
      /unsupported dict key/,
    );
    expectFormat(new PickleWriter().proto(2).int(1).emptyDict().build().stop(), /BUILD on a number/);
    expectFormat(new PickleWriter().proto(2).emptyTuple().persid().stop(), /persistent ids are not allowed/);
    expectFormat(new PickleWriter().proto(9).stop(), /protocol 9/);
    expectFormat(new PickleWriter().proto(2).raw(0x58, 0xff, 0xff, 0xff, 0x7f, 0x61).stop(), /truncated/);
    expectFormat(new PickleWriter().proto(2).raw(0x8c, 1, 0xff).stop(), /UTF-8/);
    expectFormat(new PickleWriter().proto(2).raw(0x63, 0x61).stop(), /unterminated GLOBAL/);
    expectFormat(new PickleWriter().proto(2).int(1), /truncated/);
  });

  it('asks findGlobal for GLOBAL and STACK_GLOBAL and never calls anything else', () => {
    const asked: string[] = [];
    const hooks = {
      findGlobal: (m: string, n: string) => {
        asked.push(`${m}.${n}`);
        return { kind: 'marker' };
      },
    };
    const p = new PickleWriter().proto(4).mark().global('a.b', 'c').stackGlobal('d', 'e').tuple().stop();
    unpickle(p.bytes(), hooks);
    assert.deepEqual(asked, ['a.b.c', 'd.e']);
    const call = new PickleWriter().proto(2).global('a', 'b').emptyTuple().reduce().stop();
    assert.throws(
      () => unpickle(call.bytes(), hooks),
      (e) => isTeeError(e, 'E_FORMAT'),
    );
  });
});
