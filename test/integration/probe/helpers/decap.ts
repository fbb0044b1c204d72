// The test realserver's decapsulation, standing in for an ipip / ip6tnl
// device in external mode (this kernel has neither module): a raw socket on
// IP protocol 4 and one on IPv6 next header 41 read the tunnelled packets,
// and the inner packet is written into a TUN device, where the kernel takes
// it as received and answers the TCP handshake itself.
//
//   ip netns exec RS node decap.js TUNNAME
//
// Prints "ready" once both sockets and the TUN device are open, then
// "decap N" after each packet it passes on.
import { TunDevice } from '../../../../src/net/tun.js';
import { ProbeSocket } from '../../../../src/net/probe-socket.js';
import { decapsulate } from '../../../../src/wire/ip-tunnel.js';

const tun = TunDevice.open(process.argv[2] ?? 'pgdecap', { up: true });
const v4 = ProbeSocket.open({ family: 4, kind: 'ipip' });
const v6 = ProbeSocket.open({ family: 6, kind: 'ipip' });
let count = 0;

function pass(inner: Uint8Array): void {
  tun.write(inner);
  count++;
  process.stdout.write(`decap ${count}\n`);
}

// IPv4 raw sockets read the whole packet, outer header included (raw(7)).
v4.onReadable(() => {
  for (let p = v4.receive(); p !== undefined; p = v4.receive()) pass(decapsulate(p.data).inner);
});
// IPv6 raw sockets read what follows the IPv6 header: the inner packet itself.
v6.onReadable(() => {
  for (let p = v6.receive(); p !== undefined; p = v6.receive()) pass(p.data.slice());
});
process.stdout.write('ready\n');
