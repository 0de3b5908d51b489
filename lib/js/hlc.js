'use strict';

// Hybrid logical clock as specified in docs/semantics.md section 7. The engine never reads the
// time: callers pass wall-clock milliseconds. Twin of native/core/hlc.{h,cpp}.

const { fail } = require('./json');
const { invalidArgument } = require('../common/errors');
const { utf8Length } = require('../common/json-text');

const MAX_COUNTER = 0xffff;

function isHexRun(s, from, to) {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isValidNodeId(id) {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    id.indexOf(':') === -1 &&
    utf8Length(id) <= 64
  );
}

// `LLLLLLLLLLLL:CCCC:nodeId`, lowercase hex. Returns [l, c] or throws INVALID_TIMESTAMP.
function parseTimestamp(ts) {
  if (
    typeof ts !== 'string' ||
    ts.length < 19 ||
    ts.charCodeAt(12) !== 0x3a ||
    ts.charCodeAt(17) !== 0x3a ||
    !isHexRun(ts, 0, 12) ||
    !isHexRun(ts, 13, 17) ||
    !isValidNodeId(ts.slice(18))
  ) {
    throw fail('ERR_RT_INVALID_TIMESTAMP', 'invalid HLC timestamp (expected LLLLLLLLLLLL:CCCC:nodeId)');
  }
  return [parseInt(ts.slice(0, 12), 16), parseInt(ts.slice(13, 17), 16)];
}

function format(l, c, nodeId) {
  return `${l.toString(16).padStart(12, '0')}:${c.toString(16).padStart(4, '0')}:${nodeId}`;
}

function compare(a, b) {
  parseTimestamp(a);
  parseTimestamp(b);
  // JavaScript string order (UTF-16 code units); the C++ engine emulates it.
  return a < b ? -1 : a > b ? 1 : 0;
}

function randomNodeId() {
  let s = '';
  for (let i = 0; i < 8; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}

class Clock {
  constructor(nodeId, maxDriftMs = 60000) {
    this.nodeId = nodeId === undefined || nodeId === null ? randomNodeId() : nodeId;
    if (!isValidNodeId(this.nodeId)) {
      throw invalidArgument('nodeId must be a non-empty string of at most 64 bytes without ":"');
    }
    this.maxDriftMs = maxDriftMs;
    this.l = 0;
    this.c = 0;
    this.lastTs = null;
  }

  #issue(l, c) {
    if (c > MAX_COUNTER) {
      l += 1;
      c = 0;
    }
    this.l = l;
    this.c = c;
    this.lastTs = format(l, c, this.nodeId);
    return this.lastTs;
  }

  now(wall) {
    const l = Math.max(this.l, wall);
    return this.#issue(l, l === this.l ? this.c + 1 : 0);
  }

  receive(ts, wall) {
    const [lr, cr] = parseTimestamp(ts);
    if (lr - wall > this.maxDriftMs) {
      throw fail(
        'ERR_RT_CLOCK_DRIFT',
        `remote timestamp is ${lr - wall} ms ahead of the wall clock, more than maxDriftMs (${this.maxDriftMs})`,
      );
    }
    const l = Math.max(this.l, lr, wall);
    let c;
    if (l === this.l && l === lr) c = Math.max(this.c, cr) + 1;
    else if (l === this.l) c = this.c + 1;
    else if (l === lr) c = cr + 1;
    else c = 0;
    return this.#issue(l, c);
  }

  last() {
    return this.lastTs;
  }

  // For the store, which must leave the clock untouched when an apply throws.
  snapshot() {
    return [this.l, this.c, this.lastTs];
  }

  restore(s) {
    this.l = s[0];
    this.c = s[1];
    this.lastTs = s[2];
  }

  static compare(a, b) {
    return compare(a, b);
  }
}

module.exports = { Clock, compare, parseTimestamp };
