/**
 * `node rss-probe.js <script> [args...]`: run a node script in this process and, at exit, write
 * `process.resourceUsage().maxRSS` (kilobytes) to the file named by BENCH_RSS_OUT. The fallback
 * peak-RSS probe for machines without GNU time.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [script, ...rest] = process.argv.slice(2);
const out = process.env.BENCH_RSS_OUT;
if (!script || !out) {
  process.stderr.write('usage: BENCH_RSS_OUT=<file> node rss-probe.js <script> [args...]\n');
  process.exit(2);
}
process.argv = [process.argv[0]!, resolve(script), ...rest];
process.on('exit', () => writeFileSync(out, `${process.resourceUsage().maxRSS}\n`));
await import(pathToFileURL(resolve(script)).href);
