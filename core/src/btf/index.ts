/**
 * The BTF reader of the map inspector (and, later, the verifier): parse a standalone BTF blob
 * (parse.ts), compile codecs between raw map keys/values and JSON (codec.ts), describe a type's
 * layout for a webview (shape.ts), and find `.BTF` in a compiled object (elf.ts). All pure.
 */

export {
  Btf,
  BtfKind,
  MAX_DEPTH,
  kindName,
  parseBtf,
  type BtfArray,
  type BtfComposite,
  type BtfDatasec,
  type BtfDeclTag,
  type BtfEnum,
  type BtfEnumerator,
  type BtfFloat,
  type BtfFunc,
  type BtfFuncProto,
  type BtfFwd,
  type BtfInt,
  type BtfMember,
  type BtfParam,
  type BtfRef,
  type BtfType,
  type BtfVar,
  type BtfVarSecinfo,
  type BtfVoid,
} from './parse';
export { MAX_VALUES, codecFor, fieldKeys, joinPath, type Codec, type JsonValue } from './codec';
export {
  MAX_COLUMNS,
  MAX_SHAPE_NODES,
  cellValue,
  flattenColumns,
  shapeOf,
  type ColumnDescriptor,
  type EnumValueShape,
  type FieldShape,
  type ShapeKind,
  type TypeShape,
} from './shape';
export { elfSection } from './elf';
