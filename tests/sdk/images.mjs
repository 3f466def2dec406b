// OpenAI's image generations through the gateway, with OpenAI's own SDK.
// CASE picks what to do; the last line printed is a JSON summary that
// host/tests/front_door_images.rs asserts on.
import OpenAI, { toFile } from 'openai';

const base = process.env.GATEWAY_URL;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: process.env.API_KEY, maxRetries: 0 });

async function failure(promise) {
  try {
    await promise;
    return { failed: false };
  } catch (e) {
    return { failed: true, class: e.constructor.name, status: e.status ?? null, code: e.code ?? null, message: String(e.message) };
  }
}

const cases = {
  async generate() {
    const inline = await client.images.generate({ model: 'gemini-imagen', prompt: 'draw a red square' });
    const linked = await client.images.generate({
      model: 'gemini-imagen',
      prompt: 'draw a red square',
      response_format: 'url',
    });
    const url = linked.data[0].url;
    // The link needs no key.
    const fetched = await fetch(url.replace(/^https:\/\/gw\.example/, base));
    return {
      inline: inline.data.map((image) => ({ b64: image.b64_json ?? null, url: image.url ?? null })),
      created: inline.created,
      url,
      fetchedStatus: fetched.status,
      fetchedType: fetched.headers.get('content-type'),
      fetchedBase64: Buffer.from(await fetched.arrayBuffer()).toString('base64'),
    };
  },

  // An edit: the picture to change as a file, as the SDK uploads it
  // (multipart). The input is a tiny PNG; the mock draws its own answer.
  async edit() {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
      'base64',
    );
    const edited = await client.images.edit({
      model: 'gemini-imagen',
      image: await toFile(png, 'square.png', { type: 'image/png' }),
      prompt: 'redraw the square in blue',
    });
    const masked = await failure(
      client.images.edit({
        model: 'gemini-imagen',
        image: await toFile(png, 'square.png', { type: 'image/png' }),
        mask: await toFile(png, 'mask.png', { type: 'image/png' }),
        prompt: 'redraw the square in blue',
      }),
    );
    return {
      sent: png.toString('base64'),
      edited: edited.data.map((image) => image.b64_json ?? null),
      masked,
    };
  },

  async errors() {
    const noImage = await failure(client.images.generate({ model: 'gemini-2.5-flash', prompt: 'draw a red square' }));
    const unknownModel = await failure(client.images.generate({ model: 'no-such-model', prompt: 'draw' }));
    const malformed = await failure(client.images.generate({ model: 'gemini-imagen', prompt: '' }));
    const badKey = await failure(
      new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-wrong-key-000000', maxRetries: 0 }).images.generate({
        model: 'gemini-imagen',
        prompt: 'draw',
      }),
    );
    return { noImage, unknownModel, malformed, badKey };
  },
};

const run = cases[process.env.CASE];
if (!run) throw new Error(`unknown CASE ${process.env.CASE}`);
console.log(JSON.stringify(await run()));
