export default function Home() {
  return <h1>Next.js and Switchboard on one port</h1>;
}
