// dcmjs-dimse as a Storage SCP for dicomtui's interoperability tests.
//
//   node store_scp.js PORT OUTPUT_DIR [--ae AE] [--max-pdu N] [--status 0xNNNN]
//                     [--accept TS[,TS...]] [--abort-at N]
//
// Listens on 127.0.0.1:PORT. Every storage context is accepted in the first of its
// proposed transfer syntaxes (or the first one named by --accept). Each C-STORE's
// data set is written to OUTPUT_DIR/<SOP Instance UID>.dset exactly as it came off
// the wire (never decoded and re-encoded), with <SOP Instance UID>.json beside it
// naming the command's UIDs and the accepted transfer syntax; then the C-STORE-RSP
// is sent with --status (default 0x0000); with --abort-at N, the Nth C-STORE of an
// association (its data set written) gets an A-ABORT instead of a response. One line per event goes to stdout; at
// release, "LARGEST-PDATA N" gives the longest P-DATA-TF PDU received; a PDU longer
// than --max-pdu (unless 0, no limit) and a fragment of odd length are named as they
// arrive ("PDU-TOO-LONG N", "ODD-FRAGMENT N").
'use strict';

const fs = require('fs');
const path = require('path');
const dimse = require('dcmjs-dimse');

const { Dataset, Server, Scp } = dimse;
const { CEchoResponse, CStoreResponse } = dimse.responses;
const { PresentationContextResult, SopClass, Status } = dimse.constants;

function parseArgs(argv) {
  const opts = { ae: 'DCMJS', maxPdu: 16384, status: Status.Success, accept: [], abortAt: 0 };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--ae') opts.ae = argv[++i];
    else if (arg === '--max-pdu') opts.maxPdu = Number(argv[++i]);
    else if (arg === '--status') opts.status = Number(argv[++i]);
    else if (arg === '--accept') opts.accept = argv[++i].split(',');
    else if (arg === '--abort-at') opts.abortAt = Number(argv[++i]);
    else positional.push(arg);
  }
  if (positional.length !== 2 || !Number.isInteger(opts.maxPdu) || Number.isNaN(opts.status)) {
    process.stderr.write('usage: node store_scp.js PORT OUTPUT_DIR [--ae AE] [--max-pdu N] ' +
      '[--status 0xNNNN] [--accept TS[,TS...]] [--abort-at N]\n');
    process.exit(2);
  }
  opts.port = Number(positional[0]);
  opts.outputDir = positional[1];
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
fs.mkdirSync(opts.outputDir, { recursive: true });
dimse.log.setLevel('warn');

function hex(status) {
  return '0x' + status.toString(16).toUpperCase().padStart(4, '0');
}

class RawStoreScp extends Scp {
  // Network._processPdu is dcmjs-dimse's (0.3.3) handler of each whole PDU
  // (type byte, reserved byte, 4-byte length, body): the only place to see sizes.
  _processPdu(pdu) {
    if (pdu[0] === 0x04) {
      const length = pdu.readUInt32BE(2);
      this.largestPData = Math.max(this.largestPData || 0, length);
      if (opts.maxPdu !== 0 && length > opts.maxPdu) console.log(`PDU-TOO-LONG ${length}`);
      // PS3.8 E.1: each fragment of a message shall be of an even number of bytes.
      for (let at = 6; at + 6 <= pdu.length; at += 4 + pdu.readUInt32BE(at)) {
        const fragment = pdu.readUInt32BE(at) - 2;
        if (fragment % 2) console.log(`ODD-FRAGMENT ${fragment}`);
      }
    }
    return super._processPdu(pdu);
  }

  associationRequested(association) {
    this.association = association;
    association.setMaxPduLength(opts.maxPdu);
    const called = association.getCalledAeTitle();
    if (called !== opts.ae) {
      console.log(`WRONG-CALLED-AE ${called}`);
    }
    for (const { id } of association.getPresentationContexts()) {
      const context = association.getPresentationContext(id);
      const proposed = context.getTransferSyntaxUids();
      const chosen = opts.accept.length
        ? proposed.find((ts) => opts.accept.includes(ts))
        : proposed[0];
      if (chosen === undefined) {
        context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      } else {
        context.setResult(PresentationContextResult.Accept, chosen);
      }
    }
    console.log(`ASSOCIATED ${association.getCallingAeTitle()} -> ${called} ` +
      `max-pdu ${association.getMaxPduLength()}`);
    this.sendAssociationAccept();
  }

  // The data set goes straight to a file, as received.
  createStoreWritableStream(context, request) {
    const uid = request.getAffectedSopInstanceUid();
    const target = path.join(opts.outputDir, `${uid}.dset`);
    const stream = fs.createWriteStream(target + '.part');
    stream.target = target;
    return stream;
  }

  createDatasetFromStoreWritableStream(stream, context, callback) {
    const done = () => {
      fs.renameSync(stream.target + '.part', stream.target);
      // The request only needs a Dataset; the bytes are already on disk.
      callback(new Dataset({}, context.getAcceptedTransferSyntaxUid()));
    };
    if (stream.writableFinished) done();
    else stream.once('finish', done);
  }

  cStoreRequest(request, callback) {
    const uid = request.getAffectedSopInstanceUid();
    const meta = {
      sop_class: request.getAffectedSopClassUid(),
      sop_instance: uid,
      message_id: request.getMessageId(),
      transfer_syntax: request.getDataset().getTransferSyntaxUid(),
      calling_ae: this.association.getCallingAeTitle(),
    };
    fs.writeFileSync(path.join(opts.outputDir, `${uid}.json`), JSON.stringify(meta));
    this.stores = (this.stores || 0) + 1;
    if (this.stores === opts.abortAt) {
      console.log(`ABORTING AT ${uid}`);
      this.sendAbort();
      return;
    }
    const response = CStoreResponse.fromRequest(request);
    response.setStatus(opts.status);
    console.log(`STORED ${uid} ${meta.transfer_syntax} ${hex(opts.status)}`);
    callback(response);
  }

  cEchoRequest(request, callback) {
    const response = CEchoResponse.fromRequest(request);
    response.setStatus(Status.Success);
    console.log('ECHOED');
    callback(response);
  }

  associationReleaseRequested() {
    console.log(`LARGEST-PDATA ${this.largestPData || 0}`);
    console.log('RELEASED');
    this.sendAssociationReleaseResponse();
  }

  abort(source, reason) {
    console.log(`ABORTED source ${source} reason ${reason}`);
  }
}

const server = new Server(RawStoreScp);
server.on('networkError', (e) => console.log(`NETWORK-ERROR ${e.message}`));
server.on('listening', () => console.log(`LISTENING ${opts.port}`));
// net.Server.listen takes an options object too: loopback only.
server.listen({ port: opts.port, host: '127.0.0.1' });

const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
