// forkflow's benchmark: DuckDB running the same GROUP BY as the spill
// workload (bench/run spill), under a memory limit.
//
//     node duckdb-groupby.mjs kv CSV MEMORY_LIMIT TEMP_DIR
//     node duckdb-groupby.mjs wc TEXT MEMORY_LIMIT TEMP_DIR
//
// kv: map v*2, filter v%3 != 0, SUM by key; wc: words (runs of ASCII
// letters, lower-cased) counted.  Prints the number of groups and a total
// on standard error.  Needs @duckdb/node-api (npm install, by bench/run).
import { DuckDBInstance } from '@duckdb/node-api';

const [, , kind, path, mem, tmp] = process.argv;
const inst = await DuckDBInstance.create(':memory:', {
	memory_limit: mem, threads: '2', temp_directory: tmp,
	preserve_insertion_order: 'false',
});
const c = await inst.connect();
const q = kind === 'kv' ?
	`SELECT count(*) AS groups, sum(s) AS total FROM (
	   SELECT k, sum(v * 2) AS s FROM read_csv('${path}', header = false,
	     columns = {'k': 'BIGINT', 'v': 'BIGINT'})
	   WHERE (v * 2) % 3 != 0 GROUP BY k)` :
	`SELECT count(*) AS groups, sum(n) AS total FROM (
	   SELECT w, count(*) AS n FROM (
	     SELECT unnest(regexp_extract_all(lower(line), '[a-z]+')) AS w
	     FROM read_csv('${path}', header = false, delim = '\\x01',
	       quote = '', escape = '', columns = {'line': 'VARCHAR'}))
	   GROUP BY w)`;
const r = await c.runAndReadAll(q);
const row = r.getRowObjects()[0];
console.error(`groups=${row.groups} total=${row.total}`);
