// dcmjs-dimse as a Storage SCU (and Verification SCU) for dicomtui's
// interoperability tests.
//
//   node store_scu.js HOST PORT CALLED_AE [--calling AE] [--sent-dir DIR] FILE...
//   node store_scu.js HOST PORT CALLED_AE [--calling AE] --echo
//
// Sends every FILE on one association and prints one line per response:
// "RESPONSE <SOP Instance UID> 0xNNNN", or "ECHO 0xNNNN". With --sent-dir the
// exact data set bytes dcmjs-dimse put on the wire for each object are written to
// DIR/<SOP Instance UID>.dset (it decodes and re-encodes what it reads).
// Exit status: 0 when every request got a success response, 1 when one did not
// (or got none), 2 on a network error or a rejected association.
'use strict';

const fs = require('fs');
const path = require('path');
const dimse = require('dcmjs-dimse');

const { Client, Dataset, Transcoding } = dimse;
const { CEchoRequest, CStoreRequest } = dimse.requests;
const { Status } = dimse.constants;

function parseArgs(argv) {
  const opts = { calling: 'DCMJS-SCU', sentDir: undefined, echo: false, files: [] };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--calling') opts.calling = argv[++i];
    else if (arg === '--sent-dir') opts.sentDir = argv[++i];
    else if (arg === '--echo') opts.echo = true;
    else positional.push(arg);
  }
  if (positional.length < 3 || opts.echo === positional.length > 3) {
    process.stderr.write(
      'usage: node store_scu.js HOST PORT CALLED_AE [--calling AE] ' +
        '[--sent-dir DIR] (--echo | FILE...)\n'
    );
    process.exit(2);
  }
  opts.host = positional[0];
  opts.port = Number(positional[1]);
  opts.called = positional[2];
  opts.files = positional.slice(3);
  return opts;
}

function hex(status) {
  return '0x' + status.toString(16).toUpperCase().padStart(4, '0');
}

// The data set is encoded by this method just before its P-DATA-TF PDUs are
// built (after any transcoding), so its last result is what went on the wire.
function recordSentDataSets(directory) {
  fs.mkdirSync(directory, { recursive: true });
  const encode = Dataset.prototype.getDenaturalizedDataset;
  Dataset.prototype.getDenaturalizedDataset = function (...args) {
    const encoded = encode.apply(this, args);
    const uid = this.getElement('SOPInstanceUID');
    if (uid) fs.writeFileSync(path.join(directory, `${uid}.dset`), Buffer.from(encoded));
    return encoded;
  };
}

function send(opts) {
  const client = new Client();
  const expected = opts.echo ? 1 : opts.files.length;
  let answered = 0;
  let failed = false;
  let networkError = false;

  const answer = (label) => (response) => {
    answered++;
    const status = response.getStatus();
    console.log(`${label(response)} ${hex(status)}`);
    if (status !== Status.Success) failed = true;
  };
  const requests = opts.echo
    ? [[new CEchoRequest(), () => 'ECHO']]
    : opts.files.map((file) => [
        new CStoreRequest(file),
        (response) => `RESPONSE ${response.getAffectedSopInstanceUid()}`,
      ]);
  for (const [request, label] of requests) {
    request.on('response', answer(label));
    client.addRequest(request);
  }

  client.on('associationAccepted', (association) => {
    console.log(`ASSOCIATED max-pdu ${association.getMaxPduLength()}`);
  });
  client.on('associationRejected', (result) => {
    console.log(`REJECTED ${JSON.stringify(result)}`);
    networkError = true;
  });
  client.on('networkError', (e) => {
    console.log(`NETWORK-ERROR ${e.message}`);
    networkError = true;
  });
  client.on('closed', () => {
    if (networkError) process.exit(2);
    if (answered !== expected) {
      console.log(`ANSWERED ${answered} OF ${expected}`);
      process.exit(1);
    }
    process.exit(failed ? 1 : 0);
  });
  client.send(opts.host, opts.port, opts.calling, opts.called, {
    connectTimeout: 5000,
    associationTimeout: 10000,
    pduTimeout: 10000,
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  dimse.log.setLevel('warn');
  // dcmjs itself warns of every private tag it has no name for.
  require('dcmjs').log.setLevel('error');
  if (opts.sentDir) recordSentDataSets(opts.sentDir);
  // Without the codecs dcmjs-dimse skips an object it would have to transcode
  // into a compressed syntax (it sends on any accepted context of the SOP class).
  await Transcoding.initializeAsync();
  send(opts);
}

main().catch((e) => {
  console.log(`ERROR ${e.message}`);
  process.exit(2);
});
