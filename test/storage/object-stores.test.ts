import { objectStores } from '../support/s3.ts';
import { objectStoreContract } from './object-store-contract.ts';

for (const [name, open] of objectStores()) objectStoreContract(name, open);
