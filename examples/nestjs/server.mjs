// NestJS gateways on one port through Switchboard: two ws gateways on their own paths, two
// Socket.IO gateways (namespaces of one server), GraphQL subscriptions and a ws service of the app.
//   node examples/nestjs/server.mjs [port]      (or PORT=3000)
// http://127.0.0.1:3000/api/hello         a Nest controller
// ws://127.0.0.1:3000/nest/chat           ws gateway: {"event":"echo","data":…} → {"event":"echo","data":…}
// ws://127.0.0.1:3000/nest/prices         ws gateway: {"event":"quote","data":"EUR"} → a stream of quotes
// http://127.0.0.1:3000/socket.io/        Socket.IO gateways in the namespaces /events and /admin
// ws://127.0.0.1:3000/graphql             graphql-ws (sub-protocol graphql-transport-ws)
// ws://127.0.0.1:3000/raw                 a ws service the app mounts on the hub itself
//
// TypeScript writes the decorators below as @Controller(), @WebSocketGateway(), @SubscribeMessage()
// and @Module(); applied with Reflect.decorate, as compiled TypeScript does, this file runs as it is.
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { useServer as serveGraphQL } from 'graphql-ws/use/ws';
import { interval, map, take } from 'rxjs';
import { switchboard } from 'switchboard';
import { SwitchboardAdapter } from 'switchboard/nestjs';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);

class HelloController {
  hello() {
    return { hello: 'from nest' };
  }
}
decorate(HelloController, [Controller('api')], { hello: [Get('hello')] });

class ChatGateway {
  handleConnection(client) {
    client.send(JSON.stringify({ event: 'welcome', data: '/nest/chat' }));
  }
  echo(_client, data) {
    return { event: 'echo', data };
  }
}
decorate(ChatGateway, [WebSocketGateway({ path: '/nest/chat' })], { echo: [SubscribeMessage('echo')] });

class PricesGateway {
  // An observable result streams; it stops when the client goes.
  quote(_client, currency) {
    return interval(10).pipe(
      take(3),
      map((tick) => ({ event: 'quote', data: { currency, tick } })),
    );
  }
}
decorate(PricesGateway, [WebSocketGateway({ path: '/nest/prices' })], { quote: [SubscribeMessage('quote')] });

class EventsGateway {
  // A plain result answers the client's acknowledgement.
  hello(_socket, name) {
    return `hello ${name}`;
  }
}
decorate(EventsGateway, [WebSocketGateway({ namespace: 'events' })], { hello: [SubscribeMessage('hello')] });

class AdminGateway {
  whoami(socket) {
    return { event: 'you-are', data: `${socket.nsp.name} ${socket.id}` };
  }
}
decorate(AdminGateway, [WebSocketGateway({ namespace: 'admin' })], { whoami: [SubscribeMessage('whoami')] });

class AppModule {}
decorate(AppModule, [
  Module({ controllers: [HelloController], providers: [ChatGateway, PricesGateway, EventsGateway, AdminGateway] }),
]);

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
// In place of WsAdapter and IoAdapter: every gateway becomes a route of the server's hub.
// biome-ignore lint/correctness/useHookAtTopLevel: a method of Nest's application, not a React hook
app.useWebSocketAdapter(new SwitchboardAdapter(app));

// The app's own services on the same hub: GraphQL subscriptions and a plain ws route.
const hub = switchboard(app.getHttpServer());
serveGraphQL({ schema: graphQLSchema() }, hub.ws('/graphql', {}, { protocol: 'graphql-transport-ws' }));
hub.ws('/raw').on('connection', (ws) => ws.send('welcome to /raw'));

app.enableShutdownHooks();
await app.listen(port, '127.0.0.1');
console.log(`listening on ${(await app.getUrl()).replace('[::1]', '127.0.0.1')}`);

function decorate(target, classDecorators, methodDecorators = {}) {
  Reflect.decorate(classDecorators, target);
  for (const [method, decorators] of Object.entries(methodDecorators)) {
    const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method);
    Reflect.decorate(decorators, target.prototype, method, descriptor);
  }
}

function graphQLSchema() {
  return new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: { hello: { type: GraphQLString, resolve: () => 'hello from graphql-ws in nest' } },
    }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        greetings: {
          type: GraphQLString,
          subscribe: async function* () {
            for (const greeting of ['hi', 'bonjour', 'hola']) yield { greetings: greeting };
          },
        },
      },
    }),
  });
}
