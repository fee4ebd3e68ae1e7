export {
  type EncryptionConfig,
  isSealed,
  KEY_ID_PATTERN,
  Keyring,
  parseKey,
  SEALED_PREFIX,
  type Sealer,
  sealedKeyId,
} from './keyring.js';
