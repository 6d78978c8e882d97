/**
 * Execute a notebook headlessly through a running Jupyter server, as a browser would: read it with
 * the contents API, start a kernel session, run each code cell over the kernel's websocket
 * (messaging protocol 5.3: execute_request on shell, outputs on iopub until the kernel is idle),
 * save the notebook with its outputs, end the session. Prints one JSON object: every cell's outputs.
 *
 *   JUPYTER_TOKEN=... node --experimental-websocket --import tsx src/smoke/notebook.ts http://127.0.0.1:8888/base/ dir/nb.ipynb
 *
 * A separate process because Node 20 has WebSocket only behind --experimental-websocket. The token
 * travels in the Authorization header only (never in a URL, never printed).
 */
import { randomUUID } from 'node:crypto';

interface Output {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  execution_count?: number;
  metadata?: object;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
  metadata?: object;
}

const [base, path] = process.argv.slice(2);
const token = process.env.JUPYTER_TOKEN ?? '';
if (!base || !path) {
  process.stderr.write('usage: notebook.ts <server base URL> <notebook path>\n');
  process.exit(2);
}
const url = (p: string) => new URL(p, base.endsWith('/') ? base : `${base}/`).href;
const headers = { Authorization: `token ${token}`, 'Content-Type': 'application/json' };

async function api<T>(method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(url(p), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

async function main(): Promise<void> {
  const nb = (await api<{ content: { cells: Cell[] } }>('GET', `api/contents/${path}?content=1`)).content;
  const session = await api<{ id: string; kernel: { id: string } }>('POST', 'api/sessions', {
    path,
    type: 'notebook',
    name: path,
    kernel: { name: 'python3' },
  });
  const ws = new WebSocket(url(`api/kernels/${session.kernel.id}/channels?session_id=${session.id}`).replace(/^http/, 'ws'), { headers } as never);
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => rej(new Error('the kernel websocket did not open'));
  });
  const waiting = new Map<string, { outputs: Output[]; idle: boolean; reply?: { status: string; execution_count?: number }; done: () => void }>();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(String(ev.data)) as {
      channel: string;
      header: { msg_type: string };
      parent_header: { msg_id?: string };
      content: Record<string, unknown>;
    };
    const w = waiting.get(msg.parent_header.msg_id ?? '');
    if (!w) return;
    const t = msg.header.msg_type;
    const c = msg.content;
    if (t === 'stream') w.outputs.push({ output_type: 'stream', name: c.name as string, text: c.text as string });
    else if (t === 'execute_result')
      w.outputs.push({ output_type: 'execute_result', data: c.data as Record<string, unknown>, execution_count: c.execution_count as number, metadata: {} });
    else if (t === 'display_data') w.outputs.push({ output_type: 'display_data', data: c.data as Record<string, unknown>, metadata: {} });
    else if (t === 'error') w.outputs.push({ output_type: 'error', ename: c.ename as string, evalue: c.evalue as string, traceback: c.traceback as string[] });
    else if (t === 'execute_reply') w.reply = c as { status: string; execution_count?: number };
    else if (t === 'status' && c.execution_state === 'idle') w.idle = true;
    if (w.idle && w.reply) w.done();
  };
  const results: Array<{ source: string; status: string; outputs: Output[] }> = [];
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    const code = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    const msgId = randomUUID();
    const finished = new Promise<void>((done) => waiting.set(msgId, { outputs: [], idle: false, done }));
    ws.send(
      JSON.stringify({
        header: { msg_id: msgId, msg_type: 'execute_request', username: 'sparkcraft', session: session.id, date: new Date().toISOString(), version: '5.3' },
        parent_header: {},
        metadata: {},
        channel: 'shell',
        buffers: [],
        content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      }),
    );
    await finished;
    const w = waiting.get(msgId)!;
    cell.outputs = w.outputs;
    cell.execution_count = w.reply?.execution_count ?? null;
    results.push({ source: code, status: w.reply!.status, outputs: w.outputs });
    if (w.reply!.status !== 'ok') break;
  }
  ws.close();
  await api('PUT', `api/contents/${path}`, { type: 'notebook', format: 'json', content: nb });
  await api('DELETE', `api/sessions/${session.id}`);
  process.stdout.write(`${JSON.stringify({ cells: results })}\n`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`notebook: ${e.message}\n`);
    process.exit(1);
  },
);
