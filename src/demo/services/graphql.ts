import type { EventEmitter } from 'node:events';
import { on } from 'node:events';
import type { Switchboard } from '../../switchboard.js';
import { ifMissing } from '../if-missing.js';
import type { ChatMessage } from './chat.js';

/**
 * GraphQL subscriptions with `graphql-ws` on `/graphql`: a real third-party library on a noServer
 * `ws` server, routed by path and by its sub-protocol (`graphql-transport-ws`). `chat` streams the
 * chat service's messages; `ticks` counts seconds. Returns false, mounting nothing, when `graphql`
 * or `graphql-ws` is not installed.
 */
export async function mountGraphQL(hub: Switchboard, chat: EventEmitter<{ message: [ChatMessage] }>): Promise<boolean> {
  const graphql = await import('graphql').catch(ifMissing);
  const graphqlWs = await import('graphql-ws/use/ws').catch(ifMissing);
  if (!graphql || !graphqlWs) return false;
  // graphql-ws names it useServer; renamed so that it is not taken for a React hook.
  const serveGraphQL = graphqlWs.useServer;
  const { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } = graphql;
  const ChatMessageType = new GraphQLObjectType({
    name: 'ChatMessage',
    fields: { from: { type: GraphQLString }, text: { type: GraphQLString }, at: { type: GraphQLString } },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: { hello: { type: GraphQLString, resolve: () => 'hello from graphql-ws' } },
    }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        chat: {
          type: ChatMessageType,
          subscribe: async function* () {
            for await (const [message] of on(chat, 'message')) yield { chat: message };
          },
        },
        ticks: {
          type: new GraphQLNonNull(GraphQLInt),
          subscribe: async function* () {
            for (let tick = 1; ; tick++) {
              await new Promise((resolve) => setTimeout(resolve, 1_000));
              yield { ticks: tick };
            }
          },
        },
      },
    }),
  });
  serveGraphQL({ schema }, hub.ws('/graphql', {}, { protocol: 'graphql-transport-ws' }));
  return true;
}
