'use strict';

// Playlists are documents of the module's DocumentStore, `playlist:<org>:<n>`, seeded at start
// (the example has no database). Clients edit them through rt:mutate; the server edits them
// through MutationProtocol.applyServer, which broadcasts the same way.

const { Injectable } = require('@nestjs/common');
const { InjectDocumentStore } = require('realtime-core/nestjs');
const { ORGS } = require('./fleet.service');
const { orgOfEntity } = require('./rooms');
const { notFound } = require('./errors');

const SEEDS = [
  {
    name: 'Morning loop',
    loop: true,
    items: [
      { id: 'welcome', title: 'Welcome', durationS: 10 },
      { id: 'news', title: 'Company news', durationS: 30 },
      { id: 'weather', title: 'Weather', durationS: 15 },
    ],
  },
  {
    name: 'Lunch specials',
    loop: true,
    items: [
      { id: 'menu', title: 'Menu of the day', durationS: 20 },
      { id: 'dessert', title: 'Dessert', durationS: 10 },
    ],
  },
  {
    name: 'Evening',
    loop: false,
    items: [
      { id: 'recap', title: 'Daily recap', durationS: 25 },
      { id: 'goodbye', title: 'See you tomorrow', durationS: 5 },
    ],
  },
];

class PlaylistsService {
  constructor(store) {
    this.store = store;
  }

  onModuleInit() {
    for (const org of ORGS) {
      SEEDS.forEach((doc, i) => {
        const entity = `playlist:${org}:${i + 1}`;
        if (!this.store.has(entity)) this.store.put(entity, doc);
      });
    }
  }

  entitiesOf(org) {
    return this.store.ids().filter((id) => orgOfEntity(id) === org).sort();
  }

  // -> { entity, version, doc }; another organisation's playlist is "not found" too
  get(org, entity) {
    if (orgOfEntity(entity) !== org || !this.store.has(entity)) {
      throw notFound(`no playlist "${String(entity).slice(0, 120)}" in ${org}`);
    }
    return { entity, version: this.store.version(entity), doc: this.store.get(entity) };
  }

  listOf(org) {
    return this.entitiesOf(org).map((entity) => this.get(org, entity));
  }
}
InjectDocumentStore()(PlaylistsService, undefined, 0);
Injectable()(PlaylistsService);

module.exports = { PlaylistsService, SEEDS };
