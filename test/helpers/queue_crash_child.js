'use strict';

// Child process of test/offline_queue_durable.test.js: pushes items into a durable queue with
// fsync 'always' and prints each offset once its `durable` promise resolved, until killed.
//   node queue_crash_child.js <native|js> <dir>
const impl = process.argv[2] === 'js' ? require('../../lib/js') : require('../../lib');

const queue = new impl.OfflineQueue({ path: process.argv[3], fsync: 'always', capacity: 1e6 });
let n = 0;
function next() {
  const k = ++n;
  const client = `c${k % 3}`;
  const { offset, durable } = queue.push(client, { event: 'tick', payload: `payload-${k}-${'x'.repeat(k % 50)}` });
  durable.then(() => process.stdout.write(`${client} ${offset} ${k}\n`));
  // a few pushes in flight at once, so group commit has something to group
  if (k % 4 === 0) durable.then(next);
  else setImmediate(next);
}
next();
