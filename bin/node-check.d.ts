export declare const REQUIRED: [number, number];
/** Why this Node cannot run Kappa, for people, or null when it can. */
export declare function nodeProblem(version: string): string | null;
