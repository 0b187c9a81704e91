/**
 * The MTD layer: the device interface, the flash simulator and image-file devices.
 */
export type { MtdDevice, MtdGeometry, MtdReadResult, MtdType, ReadStatus } from './device.js';
export { blockOf } from './device.js';
export type { GeometryInput } from './geometry.js';
export { makeGeometry, badBlockMarkerPos } from './geometry.js';
export { SeededRandom } from './prng.js';
export type {
  EccConfig,
  FaultConfig,
  SimulatorOptions,
  SimulatorSnapshot,
  SimulatorStats,
  TearShape,
  ReadFailCode,
} from './simulator.js';
export { FlashSimulator } from './simulator.js';
export type { ImageGeometry, ImageFileOptions, OobLayoutGuess, CreateImageOptions } from './image-file.js';
export { ImageFileDevice, createImage, detectOobLayout, expandSkipbadImage } from './image-file.js';
