export { installAuth } from './authenticate.ts';
export { ROUTE_ACCESS } from './route-access.ts';
