/**
 * The one credential redactor. Every log line, error message and probe output that may hold a
 * connection string goes through it. It masks:
 * - user-info in a URL of any scheme (`redis://user:pass@`, `rediss://token@`, `amqps://…@`,
 *   `kafka://…@`, `http://…@`): the password, or the whole user part when it has no `:` (a token);
 * - `password=…`, `sasl.password=…`, `sasl_password: …`, `DB_PASSWORD=…` style key/value pairs.
 */
const URL_USERINFO = /\b([a-z][a-z\d+.-]*:\/\/)([^\s/?#@]*(?:@[^\s/?#@]*)*)@(?=[^\s@]*(?:[\s/?#]|$))/gi;
// The key may carry prefixes (`sasl.password`, `DB_PASSWORD`, `KAFKA_SASL_PASSWORD`): `_` is a word
// character, so `\b` alone would not find `PASSWORD` inside them.
const SECRET_PAIR = /\b((?:[a-z\d]+[._-])*(?:password|passwd|secret|token|api[_-]?key)["']?\s*[=:]\s*["']?)([^\s"',;&}]+)/gi;

export function redact(text: string): string {
  return text
    .replace(URL_USERINFO, (_match, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon > 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
    })
    .replace(SECRET_PAIR, (_match, key: string) => `${key}***`);
}
