/** One process of the join storm: argv[2] = JSON { endpoints, hosts, startAt }; prints JoinResult[]. */
import { joinNodes } from './join-storm.js';

const args = JSON.parse(process.argv[2] ?? '{}') as { endpoints: string[]; hosts: string[]; startAt: number };
const results = await joinNodes(args.endpoints, args.hosts, args.startAt);
process.stdout.write(JSON.stringify(results));
