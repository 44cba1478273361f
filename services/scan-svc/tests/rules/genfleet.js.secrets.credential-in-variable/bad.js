export const config = { clientSecret: "q8w7e6r5t4y3u2i1" };
