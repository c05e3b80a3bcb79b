// Reading and freeing answers (src/context.ts): a JSON body is read no further than its bound
// (issue 13: a token endpoint, metadata or a 400 that never ends must not fill the memory), the
// rest cancelled; and an answer that is not returned has its body cancelled, whatever its state.
import { describe, expect, it } from 'vitest';
import { discard, readJson } from '../src/context.ts';

/** A body of these chunks; `cancelled` says whether (and why) the reader gave up. */
function streamed(chunks: string[], { fail = false, cancelFails = false } = {}) {
  const state = { cancelled: false, pulled: 0 };
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[state.pulled++];
      if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
      else if (fail) controller.error(new TypeError('connection reset'));
      else controller.close();
    },
    cancel() {
      state.cancelled = true;
      if (cancelFails) throw new TypeError('the connection is gone');
    },
  });
  return { response: new Response(body), state };
}

describe('readJson', () => {
  it('reads a body of exactly the bound, in any chunking; one byte more is no JSON, and the rest is cancelled', async () => {
    const text = JSON.stringify({ error: 'use_dpop_nonce', pad: 'x'.repeat(80) });
    const max = new TextEncoder().encode(text).length;
    for (const chunks of [[text], [text.slice(0, 1), text.slice(1)], [...text]]) {
      const exact = streamed(chunks);
      expect(await readJson(exact.response, max)).toEqual(JSON.parse(text));
      expect(exact.state.cancelled).toBe(false);
      const over = streamed([...chunks, '  ', '  ']);
      expect(await readJson(over.response, max + 1)).toBeUndefined();
      expect(over.state.cancelled).toBe(true);
      expect(over.state.pulled).toBeLessThan(chunks.length + 2); // not read to the end
    }
  });

  it('counts bytes, not characters', async () => {
    const text = JSON.stringify({ name: 'é'.repeat(10) }); // 10 characters, 20 bytes
    expect(await readJson(new Response(text), text.length)).toBeUndefined();
    expect(await readJson(new Response(text), text.length + 10)).toEqual({ name: 'é'.repeat(10) });
  });

  it('gives undefined for no body, an empty one, or one that is not JSON', async () => {
    expect(await readJson(new Response(null, { status: 204 }), 100)).toBeUndefined();
    expect(await readJson(new Response(''), 100)).toBeUndefined();
    expect(await readJson(new Response('<html>'), 100)).toBeUndefined();
    expect(await readJson(new Response('"a string"'), 100)).toBe('a string');
  });

  it('stops at the bound even when cancelling the rest fails, with no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const over = streamed(['{"a":', '"bbbbbbbbbb"}'], { cancelFails: true });
      expect(await readJson(over.response, 8)).toBeUndefined();
      expect(over.state.cancelled).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 10)); // unhandled rejections are reported a task later
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('rejects only when reading fails', async () => {
    const broken = streamed(['{"a":'], { fail: true });
    await expect(readJson(broken.response, 100)).rejects.toThrow('connection reset');
  });

  it('leaves a clone\'s other branch whole when it stops early', async () => {
    const text = JSON.stringify({ pad: 'y'.repeat(200) });
    const response = new Response(text);
    expect(await readJson(response.clone(), 50)).toBeUndefined();
    expect(await response.text()).toBe(text);
  });
});

describe('discard', () => {
  it('cancels the body, and settles quietly for no body, a body already read or one being read', async () => {
    const open = streamed(['a', 'b', 'c']);
    await discard(open.response);
    expect(open.state.cancelled).toBe(true);
    await expect(discard(new Response(null, { status: 204 }))).resolves.toBeUndefined();
    const read = new Response('done');
    await read.text();
    await expect(discard(read)).resolves.toBeUndefined();
    const locked = streamed(['a']);
    locked.response.body!.getReader(); // someone else holds the reader: cancel() rejects
    await expect(discard(locked.response)).resolves.toBeUndefined();
    expect(locked.state.cancelled).toBe(false);
  });
});
