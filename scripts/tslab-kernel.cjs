#!/usr/bin/env node
/**
 * Starts the tslab Jupyter kernel with its sockets bound before any socket is read or written.
 *
 * Why: tslab 1.0.22's `ZmqServer.init` starts its receive loops first and binds the five sockets
 * after. With zeromq 6 a socket that is read or written while its bind is still pending throws
 * EBUSY ("Socket is blocked by a bind or unbind operation"). When the machine is busy the first
 * `kernel_info_request` can arrive in that window: the kernel never answers it and nbconvert gives
 * up with "Kernel didn't respond in 60 seconds" (seen once in CI). This launcher replaces `init`
 * with the same steps in the safe order — bind everything, then start the loops — and otherwise
 * runs tslab unchanged. `scripts/run-notebooks.sh` registers it as the kernel binary.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const tslabDir = path.dirname(require.resolve('tslab/package.json', { paths: [path.join(__dirname, '..')] }));
const jupyter = require(path.join(tslabDir, 'dist', 'jupyter.js'));

/** Echoes every message of `socket` to `handle` until the socket closes. */
async function serve(socket, handle) {
  for await (const frames of socket) handle(frames);
}

jupyter.ZmqServer.prototype.init = async function initBoundFirst() {
  const info = JSON.parse(fs.readFileSync(this.configPath, 'utf-8'));
  this.connInfo = info;
  const zmq = require(require.resolve('zeromq', { paths: [tslabDir] }));
  this.iopub = new zmq.Publisher();
  this.shell = new zmq.Router();
  this.control = new zmq.Router();
  this.stdin = new zmq.Router();
  this.hb = new zmq.Reply();
  await Promise.all([
    this.bindSocket(this.iopub, info.iopub_port),
    this.bindSocket(this.shell, info.shell_port),
    this.bindSocket(this.control, info.control_port),
    this.bindSocket(this.stdin, info.stdin_port),
    this.bindSocket(this.hb, info.hb_port),
  ]);
  serve(this.shell, (frames) => this.handleShellMessage(this.shell, ...frames));
  serve(this.control, (frames) => this.handleShellMessage(this.control, ...frames));
  serve(this.hb, (frames) => this.hb.send(frames));
};

require(path.join(tslabDir, 'dist', 'main.js')).main();
