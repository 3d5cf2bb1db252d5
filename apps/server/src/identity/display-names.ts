/**
 * Public pseudonyms like `amber-otter-42`: what `/live` shows instead of the
 * private volunteer id. Random, assigned once at creation, unrelated to the id.
 */
import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'amber',
  'azure',
  'bold',
  'brave',
  'bright',
  'calm',
  'clever',
  'coral',
  'crisp',
  'dapper',
  'eager',
  'fair',
  'fleet',
  'gentle',
  'golden',
  'grand',
  'happy',
  'hazel',
  'ivory',
  'jolly',
  'keen',
  'kind',
  'lively',
  'lucky',
  'mellow',
  'merry',
  'misty',
  'noble',
  'olive',
  'quick',
  'quiet',
  'rapid',
  'rosy',
  'rustic',
  'silver',
  'steady',
  'sunny',
  'swift',
  'tidy',
  'witty',
];
const ANIMALS = [
  'badger',
  'beaver',
  'bison',
  'crane',
  'curlew',
  'dingo',
  'dolphin',
  'eagle',
  'egret',
  'falcon',
  'ferret',
  'finch',
  'fox',
  'gecko',
  'heron',
  'ibis',
  'jackal',
  'koala',
  'lemur',
  'lynx',
  'marten',
  'mole',
  'moose',
  'newt',
  'ocelot',
  'orca',
  'osprey',
  'otter',
  'owl',
  'panda',
  'puffin',
  'quail',
  'raven',
  'seal',
  'shrew',
  'stoat',
  'swift',
  'tapir',
  'walrus',
  'wren',
];

/**
 * A random display name: adjective-animal-number (1.6 million combinations).
 *
 * @example randomDisplayName() // 'amber-otter-42'
 */
export function randomDisplayName(): string {
  const pick = (words: readonly string[]) => words[randomInt(words.length)]!;
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}-${randomInt(1000)}`;
}
