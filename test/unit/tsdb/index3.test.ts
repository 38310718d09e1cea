/** Block indexes written by real Prometheus 3.x: version byte as written, and version 3 (2.55+ readers) read like 2. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { readIndex, type IndexSeries } from '../../../server/src/tsdb/index';
import { isUlid } from '../../../server/src/tsdb/blockDir';
import { PROMETHEUS3_VERSIONS, dataDir3 } from '../../helpers/fixtures';
import { bufferSource, bytesOf } from './helpers';

for (const v of PROMETHEUS3_VERSIONS) {
  test(`${v} native indexes: version 2 as written, no problems, UTF-8 names; the same bytes with version 3 read identically`, () => {
    const root = dataDir3(v, 'native');
    for (const b of readdirSync(root).filter(isUlid)) {
      const bytes = bytesOf(path.join(root, b, 'index'));
      const series: IndexSeries[] = [];
      const s = readIndex(bufferSource(bytes), { verify: 'full', onSeries: (x) => series.push(x) });
      assert.equal(s.version, 2);
      assert.deepEqual(s.problems, []);
      assert.equal(s.seriesCount, 11);
      assert.ok(series.some((x) => x.labels.some(([n, val]) => n === 'ünïcode' && val === 'jä')));
      assert.ok(series.some((x) => x.labels.some(([n, val]) => n === '__name__' && val === 'http.server.request.duration')));
      // Byte 4 is the version; it is covered by no CRC.
      const v3 = bytes.slice();
      v3[4] = 3;
      const series3: IndexSeries[] = [];
      const s3 = readIndex(bufferSource(v3), { verify: 'full', onSeries: (x) => series3.push(x) });
      assert.deepEqual({ ...s3, version: 2 }, s);
      assert.deepEqual(series3, series);
    }
  });
}
