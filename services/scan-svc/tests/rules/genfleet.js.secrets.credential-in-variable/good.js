export const config = { clientSecret: process.env.CLIENT_SECRET, passwordLabel: "Password" };
