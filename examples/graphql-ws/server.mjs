// GraphQL subscriptions with graphql-ws beside a plain ws service, on one port.
//   node examples/graphql-ws/server.mjs [port]  (or PORT=3000)
// ws://127.0.0.1:3000/graphql   graphql-ws (sub-protocol graphql-transport-ws): query hello, subscription countdown(from)
// ws://127.0.0.1:3000/chat      a ws service
import http from 'node:http';
import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { useServer as serveGraphQL } from 'graphql-ws/use/ws';
import { switchboard } from 'switchboard';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: { hello: { type: GraphQLString, resolve: () => 'hello from graphql-ws' } },
  }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      countdown: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { from: { type: new GraphQLNonNull(GraphQLInt) } },
        subscribe: async function* (_root, { from }) {
          for (let value = from; value >= 0; value--) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            yield { countdown: value };
          }
        },
      },
    },
  }),
});

const server = http.createServer((_req, res) => res.writeHead(404).end());
const hub = switchboard(server);

// A noServer ws server from the hub; graphql-ws does the protocol. The route asks for its
// sub-protocol, so another socket on /graphql (an older subscriptions-transport-ws client) gets 404.
serveGraphQL({ schema }, hub.ws('/graphql', {}, { protocol: 'graphql-transport-ws' }));

hub.ws('/chat').on('connection', (ws) => {
  ws.send('welcome to /chat');
  ws.on('message', (data) => ws.send(`echo: ${data}`));
});

server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));

process.on('SIGTERM', async () => {
  await hub.close();
  server.close(() => process.exit(0));
});
