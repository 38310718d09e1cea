// Shared by the extension-host suites (index.ts loads only *.test.js, so this is no suite).

/** Calls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (thrown, naming `what`). */
export async function poll<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 45_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
