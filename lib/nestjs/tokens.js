'use strict';

// Injection tokens of realtime-core/nestjs. Symbols registered with Symbol.for, so two copies of
// this package in one application (e.g. hoisted and nested) still agree on them.

const REALTIME_CORE_OPTIONS = Symbol.for('realtime-core/nestjs:REALTIME_CORE_OPTIONS');
const REALTIME_CORE = Symbol.for('realtime-core/nestjs:REALTIME_CORE');
const DOCUMENT_STORE = Symbol.for('realtime-core/nestjs:DOCUMENT_STORE');
const OFFLINE_QUEUE = Symbol.for('realtime-core/nestjs:OFFLINE_QUEUE');
const FANOUT_HUB = Symbol.for('realtime-core/nestjs:FANOUT_HUB');
// the options as given to forRoot / returned by forRootAsync's factory, before validation
const RAW_OPTIONS = Symbol.for('realtime-core/nestjs:RAW_OPTIONS');

module.exports = { REALTIME_CORE_OPTIONS, REALTIME_CORE, DOCUMENT_STORE, OFFLINE_QUEUE, FANOUT_HUB, RAW_OPTIONS };
