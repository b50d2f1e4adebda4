// Fails when the generated API types differ from the checked-in ones (the OpenAPI document moved
// and `npm run gen:api` was not run).
import { readFileSync, rmSync } from 'node:fs';
const [checkedIn, fresh] = process.argv.slice(2);
const a = readFileSync(checkedIn, 'utf8');
const b = readFileSync(fresh, 'utf8');
rmSync(fresh);
if (a !== b) {
  console.error(`${checkedIn} is out of date with its OpenAPI document (docs/): run \`npm run gen:api\` in web/ and commit it`);
  process.exit(1);
}
console.log(`${checkedIn} matches its OpenAPI document`);
