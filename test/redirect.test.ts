// The request after a redirect (src/redirect.ts), as the fetch given to createDPoPFetch receives
// it: the method and body by status (Fetch §4.4 steps 11-12), the headers dropped across origins,
// the fragment carried, the request's options and signal kept, and what is never followed.
// faults.test.ts follows redirects on real servers, with jose checking each hop's proof.
import { describe, expect, it } from 'vitest';
import { createDPoPFetch, DPoPError, generateKeyPair } from '../src/index.ts';
import { caught } from './helpers.ts';

const keyPair = await generateKeyPair();

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  options: Record<string, unknown>;
}

/** A fetch that answers `first` to the first request and 200 to the rest, recording each. */
function server(first: (req: Request) => Response) {
  const seen: Seen[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    const req = input as Request;
    if (req.signal.aborted) throw req.signal.reason;
    const { credentials, cache, mode, referrerPolicy, keepalive, redirect } = req;
    seen.push({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers), body: await req.text(), options: { credentials, cache, mode, referrerPolicy, keepalive, redirect } });
    // An in-process answer: its url is '' (as a Response made by a Service Worker or a mock is).
    return seen.length === 1 ? first(req) : new Response('ok');
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}
const to = (status: number, location: string) => () => new Response(null, { status, headers: { location } });
const bodyHeaders = { 'content-type': 'text/plain', 'content-language': 'en', 'content-location': '/doc', 'content-encoding': 'identity' };

describe('method and body after a redirect', () => {
  it.for([
    [301, 'POST', 'GET'],
    [302, 'POST', 'GET'],
    [303, 'POST', 'GET'],
    [303, 'PUT', 'GET'],
    [303, 'DELETE', 'GET'],
    [301, 'PUT', 'PUT'],
    [302, 'PATCH', 'PATCH'],
    [307, 'POST', 'POST'],
    [308, 'POST', 'POST'],
    [308, 'PUT', 'PUT'],
  ] as const)('%i after %s → %s', async ([status, method, next]) => {
    const rs = server(to(status, '/next'));
    const res = await createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start', { method, body: 'payload', headers: { ...bodyHeaders, 'x-app': '1' } });
    expect(res.status).toBe(200);
    const [, second] = rs.seen;
    expect(second!.method).toBe(next);
    expect(second!.url).toBe('https://rs.example/next');
    expect(second!.headers['x-app']).toBe('1');
    if (next === 'GET') {
      expect(second!.body).toBe('');
      for (const name of Object.keys(bodyHeaders)) expect(second!.headers[name], name).toBeUndefined();
    } else {
      expect(second!.body).toBe('payload');
      expect(second!.headers).toMatchObject(bodyHeaders);
    }
  });

  it.for([
    [303, 'GET'],
    [303, 'HEAD'],
    [301, 'HEAD'],
  ] as const)('%i after %s → the same method', async ([status, method]) => {
    const rs = server(to(status, '/next'));
    await createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start', { method, headers: { 'content-language': 'en' } });
    expect(rs.seen[1]!.method).toBe(method);
    expect(rs.seen[1]!.headers['content-language']).toBe('en');
  });

  it('a one-shot stream: refused when the next request must send it again, dropped when it becomes a GET', async () => {
    const stream = () => new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('once')), c.close()) });
    const refused = server(to(307, '/next'));
    const err = await caught(() => createDPoPFetch({ keyPair, fetch: refused.fetch })('https://rs.example/start', { method: 'POST', body: stream(), duplex: 'half' } as RequestInit));
    expect(err).toBeInstanceOf(DPoPError);
    expect(err.code).toBe('ERR_BODY_NOT_REPLAYABLE');
    expect(err.message).toBe('The server at https://rs.example redirected (HTTP 307), but the body is a one-shot stream, already sent. Send the request to https://rs.example/next directly, or pass a string, Blob, ArrayBuffer or FormData body.');
    expect(err.response.status).toBe(307);
    expect(refused.seen).toHaveLength(1);
    const dropped = server(to(303, '/next'));
    const res = await createDPoPFetch({ keyPair, fetch: dropped.fetch })('https://rs.example/start', { method: 'POST', body: stream(), duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(dropped.seen.map((s) => [s.method, s.body])).toEqual([['POST', 'once'], ['GET', '']]);
  });
});

describe('where a redirect goes', () => {
  it('a relative Location is resolved against the request when the answer has no url; the fragment is kept unless the Location has one', async () => {
    for (const [location, expected] of [
      ['/next', 'https://rs.example/next#part'],
      ['next?q=1', 'https://rs.example/dir/next?q=1#part'],
      ['/next#other', 'https://rs.example/next#other'],
      ['https://rs.example/abs', 'https://rs.example/abs#part'],
    ]) {
      const rs = server(to(302, location!));
      await createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/dir/start#part');
      expect(rs.seen[1]!.url, location).toBe(expected);
    }
  });

  it.for([
    ['https://user@rs.example/next', 'an invalid'],
    ['https://:secret@rs.example/next', 'an invalid'],
    ['ftp://rs.example/next', 'a ftp:'],
    ['data:text/plain,hi', 'a data:'],
    ['https://[::1/', 'an invalid'],
  ])('Location %s → ERR_REDIRECT naming %s URL; nothing sent there', async ([location, what]) => {
    const rs = server(to(302, location));
    const err = await caught(() => createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start'));
    expect(err).toBeInstanceOf(DPoPError);
    expect(err.code).toBe('ERR_REDIRECT');
    expect(err.message).toBe(`The server at https://rs.example redirected to ${what} URL (HTTP 302); only http(s) URLs are followed. Fix its Location header.`);
    expect(err.response.status).toBe(302);
    expect(rs.seen).toHaveLength(1);
  });

  it('http: is followed as https: is', async () => {
    const rs = server(to(301, 'http://rs.example/plain'));
    expect((await createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start')).status).toBe(200);
    expect(rs.seen[1]!.url).toBe('http://rs.example/plain');
  });
});

describe('what the next request carries', () => {
  const credentials = { authorization: 'Basic dTpw', 'proxy-authorization': 'Basic cDpw', cookie: 'session=1' };

  it('same origin: every header but the old proof, which is made anew for the new URL', async () => {
    const rs = server(to(302, '/next'));
    await createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start', { headers: { 'proxy-authorization': 'Basic cDpw', cookie: 'session=1' } });
    expect(rs.seen[1]!.headers).toMatchObject({ 'proxy-authorization': 'Basic cDpw', cookie: 'session=1' });
    expect(rs.seen[1]!.headers.dpop).toBeDefined();
    expect(rs.seen[1]!.headers.dpop).not.toBe(rs.seen[0]!.headers.dpop);
  });

  it('another origin: no Authorization, Proxy-Authorization, Cookie or DPoP; the rest kept', async () => {
    const rs = server(to(302, 'https://other.example/next'));
    await createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start', { headers: { ...credentials, 'x-app': '1' } });
    const headers = rs.seen[1]!.headers;
    for (const name of [...Object.keys(credentials), 'dpop']) expect(headers[name], name).toBeUndefined();
    expect(headers['x-app']).toBe('1');
    expect(rs.seen[0]!.headers).toMatchObject(credentials);
  });

  it('the request options that differ from the defaults, and manual redirects at every hop', async () => {
    const options = { credentials: 'include', cache: 'no-store', mode: 'same-origin', referrerPolicy: 'no-referrer', keepalive: true } as const;
    const rs = server(to(307, '/next'));
    await createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start', options);
    expect(rs.seen.map((s) => s.options)).toEqual([{ ...options, redirect: 'manual' }, { ...options, redirect: 'manual' }]);
    const plain = server(to(307, '/next'));
    await createDPoPFetch({ keyPair, fetch: plain.fetch })('https://rs.example/start');
    expect(plain.seen[1]!.options).toEqual({ credentials: 'same-origin', cache: 'default', mode: 'cors', referrerPolicy: '', keepalive: false, redirect: 'manual' });
  });

  it('the caller\'s signal: aborted during the first hop, the next request is not sent', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const rs = server(() => (controller.abort(reason), new Response(null, { status: 302, headers: { location: '/next' } })));
    expect(await caught(() => createDPoPFetch({ keyPair, fetch: rs.fetch })('https://rs.example/start', { signal: controller.signal }))).toBe(reason);
    expect(rs.seen).toHaveLength(1);
  });
});

describe('an origin outside allowedOrigins', () => {
  it('its request goes to fetch as the caller made it, without a proof or token: redirect "follow" by default, "manual" (from the options or the Request) left manual', async () => {
    const made = async (input: string | Request, init?: RequestInit) => {
      const rs = server(to(302, '/next'));
      const res = await createDPoPFetch({ keyPair, fetch: rs.fetch, allowedOrigins: ['https://rs.example'] })(input, init);
      expect(rs.seen).toHaveLength(1);
      expect(rs.seen[0]!.headers.dpop).toBeUndefined();
      expect(rs.seen[0]!.headers.authorization).toBeUndefined();
      return { status: res.status, redirect: rs.seen[0]!.options.redirect };
    };
    expect(await made('https://other.example/start')).toEqual({ status: 302, redirect: 'follow' });
    expect(await made('https://other.example/start', { redirect: 'manual' })).toEqual({ status: 302, redirect: 'manual' });
    expect(await made(new Request('https://other.example/start', { redirect: 'manual' }))).toEqual({ status: 302, redirect: 'manual' });
    expect(await made(new Request('https://other.example/start', { redirect: 'manual' }), { redirect: 'follow' })).toEqual({ status: 302, redirect: 'follow' });
  });
});
