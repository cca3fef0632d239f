/**
 * `node --import switchboard/register app.js`, `node -r switchboard/register app.js`, or
 * `import 'switchboard/register'` as the first line of an entry file: makes unchanged legacy code
 * safe. Under `switchboard doctor` it also reports what it found once the app's servers listen.
 */

import { reportToDoctorWhenListening } from './doctor-channel.js';
import { installGuard } from './install.js';

installGuard();
reportToDoctorWhenListening();
