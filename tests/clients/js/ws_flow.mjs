// The WebSocket flow with Stream's official npm SDK, unchanged, against townhall's chat surface.
//
// Env: BASE_URL (the chat URL, e.g. http://127.0.0.1:8000/chat), API_KEY, TOKEN_A, TOKEN_B (user
// tokens; the user ids are read from them), CHANNEL_ID (a fresh messaging channel id).
// Two users connect; a creates and watches the channel with both as members, b watches it;
// b sees a's message.new, a sees b's typing.start and message.read; a's socket drops, a
// reconnects, recovers its channels and still gets b's next message.
// Prints one JSON summary line and exits 0, or prints the failure and exits 1.

import { StreamChat } from 'stream-chat';

const STEP_TIMEOUT_MS = 10_000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

function userIdOf(token) {
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  if (!claims.user_id) throw new Error('the token has no user_id');
  return claims.user_id;
}

// Resolves with the first event of `type` on `target` (a client or a channel) matching `accept`.
function nextEvent(target, type, accept = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`no ${type} within ${STEP_TIMEOUT_MS} ms`));
    }, STEP_TIMEOUT_MS);
    const subscription = target.on(type, (event) => {
      if (!accept(event)) return;
      clearTimeout(timer);
      subscription.unsubscribe();
      resolve(event);
    });
  });
}

async function main() {
  const baseURL = env('BASE_URL');
  const apiKey = env('API_KEY');
  const tokenA = env('TOKEN_A');
  const tokenB = env('TOKEN_B');
  const channelId = env('CHANNEL_ID');
  const idA = userIdOf(tokenA);
  const idB = userIdOf(tokenB);
  const summary = { users: [idA, idB], channel: `messaging:${channelId}` };

  const a = new StreamChat(apiKey, { baseURL, allowServerSideConnect: true });
  const b = new StreamChat(apiKey, { baseURL, allowServerSideConnect: true });
  try {
    const meA = await a.connectUser({ id: idA, name: 'User A' }, tokenA);
    await b.connectUser({ id: idB, name: 'User B' }, tokenB);
    summary.connection_id = meA.connection_id;
    if (meA.me?.id !== idA) throw new Error(`health.check me is ${JSON.stringify(meA.me)}`);

    const channelA = a.channel('messaging', channelId, { members: [idA, idB] });
    await channelA.watch();
    const channelB = b.channel('messaging', channelId);
    await channelB.watch();

    const gotMessage = nextEvent(channelB, 'message.new');
    const sent = await channelA.sendMessage({ text: 'hello from a' });
    const messageNew = await gotMessage;
    if (messageNew.message?.id !== sent.message.id) throw new Error('b got another message');
    if (messageNew.user?.id !== idA) throw new Error(`message.new user is ${messageNew.user?.id}`);
    summary.message_new = messageNew.message.text;

    const gotTyping = nextEvent(channelA, 'typing.start', (e) => e.user?.id === idB);
    await channelB.keystroke();
    summary.typing_start = (await gotTyping).user.id;

    const gotRead = nextEvent(channelA, 'message.read', (e) => e.user?.id === idB);
    await channelB.markRead();
    summary.message_read = (await gotRead).user.id;
    if (channelA.state.read[idB]?.unread_messages !== 0) throw new Error('a does not see b as read');

    // Drop a's socket as a network failure would; the SDK reconnects and re-queries its channels.
    const recovered = nextEvent(a, 'connection.recovered');
    a.wsConnection.ws.terminate();
    await recovered;
    summary.reconnected_connection_id = a._getConnectionID();
    if (summary.reconnected_connection_id === summary.connection_id) {
      throw new Error('the connection id did not change on reconnect');
    }

    const gotAfter = nextEvent(channelA, 'message.new', (e) => e.user?.id === idB);
    await channelB.sendMessage({ text: 'welcome back' });
    summary.message_new_after_reconnect = (await gotAfter).message.text;

    summary.ok = true;
    console.log(JSON.stringify(summary));
  } finally {
    await Promise.allSettled([a.disconnectUser(), b.disconnectUser()]);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`ws_flow failed: ${error?.stack ?? error}`);
    process.exit(1);
  },
);
