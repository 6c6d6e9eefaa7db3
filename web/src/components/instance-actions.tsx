import type { Instance } from '../api/types.js';
import { ALLOWED, useInstanceOps } from '../hooks/use-instance-ops.js';
import { BusyButton } from './busy-button.js';

/** Start/Stop/Restart and Launch for one instance; names include the subdomain for screen readers in lists. */
export function InstanceActions({ instance, small }: { instance: Instance; small?: boolean }) {
  const { lifecycle, launch } = useInstanceOps();
  const size = small ? 'small' : '';
  const name = instance.subdomain;
  return (
    <div className="actions" role="group" aria-label={`Actions for ${name}`}>
      <BusyButton className={`primary ${size}`} onClick={() => launch(instance)} disabled={instance.state !== 'running'} failTitle={`Could not open the editor of ${name}`} aria-label={`Launch editor for ${name}`} title="Open the Node-RED editor, signed in, in a new tab">
        Launch
      </BusyButton>
      {ALLOWED.start.includes(instance.state) ? (
        <BusyButton className={size} onClick={() => lifecycle(instance, 'start')} failTitle={`Could not start ${name}`} aria-label={`Start ${name}`}>
          Start
        </BusyButton>
      ) : (
        <BusyButton className={size} onClick={() => lifecycle(instance, 'stop')} disabled={!ALLOWED.stop.includes(instance.state)} failTitle={`Could not stop ${name}`} aria-label={`Stop ${name}`}>
          Stop
        </BusyButton>
      )}
      <BusyButton className={size} onClick={() => lifecycle(instance, 'restart')} disabled={!ALLOWED.restart.includes(instance.state)} failTitle={`Could not restart ${name}`} aria-label={`Restart ${name}`}>
        Restart
      </BusyButton>
    </div>
  );
}
