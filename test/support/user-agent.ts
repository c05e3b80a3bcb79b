// What a browser does between `location.assign(authorizationUrl)` and the app's callback page:
// follow the authorization server's redirects (its login and consent interactions), carrying
// its cookies, until it sends the user back to the redirect URI. Node-only test helper.

/** A cookie jar for one origin: name → value; every cookie is sent on every request. */
export class UserAgent {
  readonly cookies = new Map<string, string>();

  #remember(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** GETs `url` and follows redirects until one points at `redirectUri`; returns that URL. */
  async navigate(url: string, redirectUri: string, maxRedirects = 10): Promise<string> {
    let next = url;
    for (let i = 0; i <= maxRedirects; i++) {
      const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const response = await fetch(next, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      this.#remember(response);
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (!location) throw new Error(`the authorization server stopped at ${next} with HTTP ${response.status}`);
      next = new URL(location, next).href;
      if (next.startsWith(redirectUri)) return next;
    }
    throw new Error(`more than ${maxRedirects} redirects`);
  }
}
