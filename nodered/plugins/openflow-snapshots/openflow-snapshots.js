'use strict';
// Runtime half of Openflow's Snapshot button. The editor calls these admin routes (guarded by Node-RED's own
// permissions, so the magic-token session is required); they relay to the Openflow manager as this instance.

const path = require('node:path');

const LIST_LIMIT = 10;
const CALL_TIMEOUT_MS = 60_000;
// A rollback that installs modules restarts the runtime, and npm can take minutes.
const ROLLBACK_TIMEOUT_MS = 10 * 60_000;
const SNAPSHOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function text(value, max) {
  return typeof value === 'string' ? value.slice(0, max) : undefined;
}

module.exports = function openflowSnapshots(RED) {
  // The shim, not the environment, holds the instance's secret; the same module instance that settings loaded.
  const { callManager } = require(path.join(__dirname, '..', '..', 'openflow-shim.cjs'));

  function relay(res, call) {
    call.then(
      (answer) => res.status(answer.status).json(answer.body === null ? {} : answer.body),
      (err) => {
        RED.log.warn(`[openflow] snapshot call to the manager failed: ${err && err.name ? err.name : 'error'}`);
        res.status(502).json({ code: 'manager_unreachable', message: 'Openflow could not be reached; try again' });
      },
    );
  }

  RED.plugins.registerPlugin('openflow-snapshots', {
    onadd() {
      RED.httpAdmin.get('/openflow/snapshots', RED.auth.needsPermission('flows.read'), (req, res) => {
        relay(res, callManager('GET', 'snapshots', { limit: LIST_LIMIT }, CALL_TIMEOUT_MS));
      });
      RED.httpAdmin.post('/openflow/snapshots', RED.auth.needsPermission('flows.write'), (req, res) => {
        const body = req.body || {};
        const input = {};
        const name = text(body.name, 200);
        const description = text(body.description, 2000);
        if (name !== undefined && name.trim() !== '') input.name = name;
        if (description !== undefined) input.description = description;
        relay(res, callManager('POST', 'snapshots', input, CALL_TIMEOUT_MS));
      });
      RED.httpAdmin.post('/openflow/snapshots/:id/rollback', RED.auth.needsPermission('flows.write'), (req, res) => {
        if (!SNAPSHOT_ID.test(req.params.id)) {
          res.status(404).json({ code: 'not_found', message: 'Snapshot not found' });
          return;
        }
        relay(res, callManager('POST', `snapshots/${req.params.id}/rollback`, {}, ROLLBACK_TIMEOUT_MS));
      });
    },
  });
};
