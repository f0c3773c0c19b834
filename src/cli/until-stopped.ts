// How a long-running command (enclave, accelerator) learns to stop: SIGINT or SIGTERM, or, when the
// parent that started it opened an IPC channel (the client's direct launcher, the demo's and the bench's
// helpers), that channel closing: the parent is gone however it ended, SIGKILL included, and nothing
// else would stop the orphan. Started from a shell or a service manager there is no channel: signals only.

export type StopReason = NodeJS.Signals | 'parent exited';

/** The first reason to stop; listens from this call on (so make it before announcing readiness). */
export function untilStopped(): Promise<StopReason> {
  return new Promise((resolve) => {
    const stop = (why: StopReason) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // Also unrefs the channel, which a 'disconnect' listener keeps open: the process can then exit.
      process.off('disconnect', onDisconnect);
      resolve(why);
    };
    const onDisconnect = () => stop('parent exited');
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (typeof process.send !== 'function') return; // no IPC channel
    // The parent may have gone while this process was loading: the event has passed, the state stays.
    if (process.connected) process.once('disconnect', onDisconnect);
    else stop('parent exited');
  });
}
