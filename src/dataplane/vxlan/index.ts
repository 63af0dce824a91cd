/** VXLAN VTEP: static FDB + neighbour entries per remote node (nolearning). Pure diff + spec. */
export * from './diff.js';
